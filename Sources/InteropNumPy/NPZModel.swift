import ConvNet
import Foundation
import ModelArchive

/// Reading and writing NumPy `.npz` files as whole documents (`Schemas/npz-mapping.md`), through the streaming
/// ``NPZTensorReader`` and ``NPZWriter``.
///
/// CNNKit's layout: one `.npy` member per tensor, keyed by its exchange name (`conv2d.kernel`), optimizer
/// slots as `optimizer.<parameter>.<slot>`, probes as `probes.inputs` / `probes.outputs`, and the architecture,
/// training-state scalars, probe source and metadata as JSON in `__cnnkit__`. Archives in the seed's layout
/// (`filters`, `weights`, `biases`) are read as the seed architecture.
public enum NPZModel {
    /// Reads an npz file into a document.
    ///
    /// - Parameters:
    ///   - path: the file.
    ///   - architecture: used when the archive carries none (no `__cnnkit__`); for the seed's layout it
    ///     replaces the inferred architecture.
    /// - Throws: a ``NumPyError`` naming the member and what is wrong.
    public static func read(path: String, architecture: Architecture? = nil) throws -> ModelDocument {
        try StreamedModel(reader: NPZTensorReader(path: path, architecture: architecture)).document()
    }

    /// Reads an npz held in memory; `name` stands for the file in error messages.
    ///
    /// ZIPFoundation 0.9.20's in-memory archives trap when a damaged archive makes it seek past the end
    /// (`Archive.MemoryFile.readData` forms a negative range), so reading always goes through a real file,
    /// where such a read returns no bytes and ZIPFoundation throws. The file is a ``TemporaryFile`` in the
    /// system's temporary folder (unnamed on Linux, so nothing is left behind even if the process is killed).
    public static func read(bytes: [UInt8], name: String, architecture: Architecture? = nil) throws -> ModelDocument {
        let temp: TemporaryFile
        do {
            temp = try TemporaryFile(in: TemporaryFile.systemFolder, base: "cnnkit-npz")
            try bytes.withUnsafeBytes { raw in try FileIO.writeAll(temp.descriptor, raw) }
        } catch {
            throw NumPyError.notAZip(file: name, reason: "cannot stage the bytes in a temporary file: \(error)")
        }
        defer { temp.remove() }
        let reader = try NPZTensorReader(url: URL(fileURLWithPath: temp.path), name: name, architecture: architecture)
        return try StreamedModel(reader: reader).document()
    }

    /// Writes a document atomically (temporary file in the same folder, `fsync`, rename).
    ///
    /// - Parameter compress: deflate every member (as `numpy.savez_compressed`); stored otherwise (`numpy.savez`).
    /// - Throws: ``NumPyError/invalidWrite(reason:)`` when the document's tensors do not match its
    ///   architecture; ``ArchiveError`` when the file cannot be written.
    public static func write(_ document: ModelDocument, to path: String, compress: Bool = false) throws {
        try NPZWriter.write(StreamedModel(document: document), to: path, compress: compress)
    }

    /// The bytes ``write(_:to:compress:)`` writes: deterministic for the same document.
    public static func encode(_ document: ModelDocument, compress: Bool = false) throws -> [UInt8] {
        try NPZWriter.encode(StreamedModel(document: document), compress: compress)
    }

    /// Which members make a document of `architecture`, from their keys and shapes alone; every array must be
    /// claimed.
    ///
    /// - Throws: ``NumPyError/document(file:member:reason:)`` naming the member.
    static func layout(shapes: [String: [Int]], architecture: Architecture, state: TrainingState?, file: String) throws -> DocumentLayout {
        func fail(_ key: String?, _ reason: String) -> NumPyError { .document(file: file, member: key.map(NPZLayout.member), reason: reason) }
        let specs: [ParameterSpec]
        do {
            try architecture.validate()
            specs = try architecture.parameterSpecs()
        } catch {
            throw fail(nil, "architecture: \(error)")
        }
        do {
            return try DocumentLayout(shapes: shapes, architecture: architecture, specs: specs, state: state,
                                      probeNames: (NPZLayout.probeInputs, NPZLayout.probeOutputs),
                                      unclaimedReason: "is not a parameter of the architecture, an optimizer slot or a probe array")
        } catch {
            throw fail(error.name, error.reason)
        }
    }
}

import ConvNet
import Foundation
import ModelArchive

/// Whole-document reading and writing of NumPy `.npz` files (`Schemas/npz-mapping.md`).
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
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw NumPyError.missingFile(path: path, reason: "no such file") }
        guard !isDirectory.boolValue else { throw NumPyError.missingFile(path: path, reason: "is a folder") }
        guard FileManager.default.isReadableFile(atPath: path) else { throw NumPyError.missingFile(path: path, reason: "permission denied") }
        return try document(from: NPZArchive.read(url: URL(fileURLWithPath: path), name: path), name: path, architecture: architecture)
    }

    /// Reads an npz held in memory; `name` stands for the file in error messages.
    public static func read(bytes: [UInt8], name: String, architecture: Architecture? = nil) throws -> ModelDocument {
        try document(from: NPZArchive.read(bytes: bytes, name: name), name: name, architecture: architecture)
    }

    /// Maps an archive's members to a document.
    static func document(from archive: NPZArchive, name: String, architecture: Architecture?) throws -> ModelDocument {
        var arrays: [String: NumPyArray] = [:]
        var metadataText: String?
        for (member, data) in archive.members {
            guard member.hasSuffix(".npy"), member.count > 4 else {
                throw NumPyError.badMember(file: name, member: member, reason: "is not a .npy array (npz members are named <key>.npy)")
            }
            let key = String(member.dropLast(4))
            do {
                if key == NPZLayout.metadataKey {
                    metadataText = try NumPyArray.parseText(data, path: member)
                } else {
                    arrays[key] = try NumPyArray.parse(data, path: member)
                }
            } catch let error as ArchiveError {
                if case let .invalid(_, location, reason) = error {
                    throw NumPyError.badArray(file: name, member: member, location: location, reason: reason)
                }
                throw NumPyError.badArray(file: name, member: member, location: nil, reason: "\(error)")
            }
        }
        if let metadataText {
            let meta: NPZLayout.Metadata
            do {
                meta = try ArchiveJSON.decoder().decode(NPZLayout.Metadata.self, from: Data(metadataText.utf8))
            } catch {
                throw NumPyError.document(file: name, member: NPZLayout.member(NPZLayout.metadataKey), reason: "not CNNKit metadata JSON: \(error)")
            }
            guard meta.formatVersion == NPZLayout.formatVersion else {
                throw NumPyError.document(file: name, member: NPZLayout.member(NPZLayout.metadataKey),
                                          reason: "format_version \(meta.formatVersion) is not supported (this build reads \(NPZLayout.formatVersion))")
            }
            return try document(arrays: arrays, architecture: meta.architecture, state: meta.trainingState,
                                probesSource: meta.probesSource, metadata: meta.metadata, file: name)
        }
        if NPZSeedLayout.matches(arrays.keys) {
            return try NPZSeedLayout.document(arrays: arrays, given: architecture, file: name)
        }
        guard let architecture else { throw NumPyError.missingArchitecture(file: name) }
        return try document(arrays: arrays, architecture: architecture, state: nil, probesSource: nil, metadata: [:], file: name)
    }

    /// Writes a document atomically (temporary file in the same folder, `fsync`, rename).
    ///
    /// - Parameter compress: deflate every member (as `numpy.savez_compressed`); stored otherwise (`numpy.savez`).
    /// - Throws: ``NumPyError/invalidWrite(reason:)`` when the document's tensors do not match its
    ///   architecture; ``ArchiveError`` when the file cannot be written.
    public static func write(_ document: ModelDocument, to path: String, compress: Bool = false) throws {
        try AtomicFile.write(bytes: try encode(document, compress: compress), to: path)
    }

    /// The bytes ``write(_:to:compress:)`` writes: deterministic for the same document.
    public static func encode(_ document: ModelDocument, compress: Bool = false) throws -> [UInt8] {
        let meta = NPZLayout.Metadata(formatVersion: NPZLayout.formatVersion, architecture: document.architecture,
                                      trainingState: document.trainingState, probesSource: document.probes?.source,
                                      metadata: document.metadata)
        let json: String
        do {
            json = String(decoding: try ArchiveJSON.encoder().encode(meta), as: UTF8.self)
        } catch {
            throw NumPyError.invalidWrite(reason: "metadata cannot be encoded: \(error)")
        }
        var members: [(name: String, bytes: [UInt8])] = [(NPZLayout.member(NPZLayout.metadataKey), NumPyArray.encodedText(json))]
        var arrays: [String: NumPyArray] = [:]
        func add(_ key: String, _ tensor: Tensor, asBytes: Bool = false) throws {
            guard key != NPZLayout.metadataKey, arrays[key] == nil else { throw NumPyError.invalidWrite(reason: "tensor name '\(key)' is used twice or reserved") }
            guard Tensor.elementCount(tensor.shape) == tensor.scalars.count else {
                throw NumPyError.invalidWrite(reason: "tensor \(key) has shape \(tensor.shape) but \(tensor.scalars.count) values")
            }
            let array = NumPyArray(shape: tensor.shape, values: tensor.scalars)
            arrays[key] = array
            members.append((NPZLayout.member(key), array.encoded(asBytes: asBytes)))
        }
        for t in document.tensors { try add(t.name, t.tensor) }
        for t in document.trainingState?.slots ?? [] { try add(t.name, t.tensor) }
        if let probes = document.probes {
            let whole = probes.inputs.scalars.allSatisfy { $0 >= 0 && $0 <= 255 && $0 == $0.rounded() && $0.sign == .plus }
            try add(NPZLayout.probeInputs, probes.inputs, asBytes: whole)
            try add(NPZLayout.probeOutputs, probes.outputs)
        }
        // What we write must be a document we read.
        do {
            _ = try self.document(arrays: arrays, architecture: document.architecture, state: document.trainingState,
                             probesSource: document.probes?.source, metadata: document.metadata, file: "(output)")
        } catch let error as NumPyError {
            if case let .document(_, member, reason) = error {
                throw NumPyError.invalidWrite(reason: member.map { "member \($0): \(reason)" } ?? reason)
            }
            throw error
        }
        return try NPZArchive(members: members).encoded(compress: compress)
    }

    /// Assembles a document from arrays keyed by exchange name; every array must be claimed.
    static func document(arrays: [String: NumPyArray], architecture: Architecture, state: TrainingState?, probesSource: String?,
                         metadata: [String: String], file: String) throws -> ModelDocument {
        func fail(_ key: String?, _ reason: String) -> NumPyError { .document(file: file, member: key.map(NPZLayout.member), reason: reason) }
        let specs: [ParameterSpec]
        do {
            try architecture.validate()
            specs = try architecture.parameterSpecs()
        } catch {
            throw fail(nil, "architecture: \(error)")
        }
        do {
            return try ModelDocument.assemble(
                tensors: arrays.mapValues { Tensor(shape: $0.shape, scalars: $0.values) }, architecture: architecture, specs: specs,
                state: state, probeNames: (NPZLayout.probeInputs, NPZLayout.probeOutputs), probesSource: probesSource, metadata: metadata,
                unclaimedReason: "is not a parameter of the architecture, an optimizer slot or a probe array")
        } catch {
            throw fail(error.name, error.reason)
        }
    }
}

import ConvNet
import Foundation
import ModelArchive

/// Whole-document reading and writing of safetensors files (`Schemas/safetensors-mapping.md`).
///
/// Parameters are tensors named as in the exchange set (`conv2d.kernel`), optimizer slots as
/// `optimizer.<parameter>.<slot>`, probes as `probes.inputs` / `probes.outputs`; the architecture, the
/// training state's scalars, the probes' source and the document's metadata are `__metadata__` strings.
public enum SafetensorsModel {
    /// Reads a file into a document.
    ///
    /// - Parameters:
    ///   - path: the file.
    ///   - architecture: used when the file carries none (a plain safetensors file from elsewhere); ignored
    ///     when it does.
    /// - Throws: a ``SafetensorsError``: ``SafetensorsError/missingArchitecture(file:)`` when neither the file
    ///   nor the caller gives an architecture, ``SafetensorsError/document(file:tensor:reason:)`` for a
    ///   missing, mis-shaped or unknown tensor.
    public static func read(path: String, architecture: Architecture? = nil) throws -> ModelDocument {
        try document(from: SafetensorsFile.read(path: path), name: path, architecture: architecture)
    }

    /// Reads a file held in memory; `name` stands for the file in error messages.
    public static func read(bytes: [UInt8], name: String, architecture: Architecture? = nil) throws -> ModelDocument {
        try document(from: SafetensorsFile.parse(bytes, name: name), name: name, architecture: architecture)
    }

    /// Writes a document atomically (temporary file in the same folder, `fsync`, rename).
    ///
    /// - Throws: ``SafetensorsError/invalidWrite(reason:)`` when the document's tensors do not match its
    ///   architecture or its metadata uses a reserved key; ``ArchiveError`` when the file cannot be written.
    public static func write(_ document: ModelDocument, to path: String) throws {
        try AtomicFile.write(bytes: try encode(document), to: path)
    }

    /// The bytes ``write(_:to:)`` writes: deterministic for the same document.
    public static func encode(_ document: ModelDocument) throws -> [UInt8] {
        let file = try file(for: document)
        let bytes = try file.encoded()
        // Read back in memory: what we write must be a document we read.
        do {
            _ = try self.document(from: file, name: "(output)", architecture: nil)
        } catch let error as SafetensorsError {
            if case let .document(_, tensor, reason) = error {
                throw SafetensorsError.invalidWrite(reason: tensor.map { "tensor \($0): \(reason)" } ?? reason)
            }
            throw error
        }
        return bytes
    }

    /// The tensors and `__metadata__` a document maps to.
    public static func file(for document: ModelDocument) throws -> SafetensorsFile {
        for key in document.metadata.keys where SafetensorsLayout.reservedKeys.contains(key) {
            throw SafetensorsError.invalidWrite(reason: "metadata key '\(key)' is reserved for CNNKit's own data")
        }
        var metadata = document.metadata
        metadata[SafetensorsLayout.formatVersionKey] = SafetensorsLayout.formatVersion
        metadata[SafetensorsLayout.architectureKey] = document.architecture.jsonString()
        var tensors = document.tensors.map { SafetensorsTensor(name: $0.name, shape: $0.tensor.shape, values: $0.tensor.scalars) }
        if let state = document.trainingState {
            do {
                metadata[SafetensorsLayout.trainingStateKey] = String(decoding: try ArchiveJSON.encoder().encode(state), as: UTF8.self)
            } catch {
                throw SafetensorsError.invalidWrite(reason: "training state cannot be encoded: \(error)")
            }
            tensors += state.slots.map { SafetensorsTensor(name: $0.name, shape: $0.tensor.shape, values: $0.tensor.scalars) }
        }
        if let probes = document.probes {
            metadata[SafetensorsLayout.probesSourceKey] = probes.source
            tensors.append(SafetensorsTensor(name: SafetensorsLayout.probeInputs, shape: probes.inputs.shape, values: probes.inputs.scalars))
            tensors.append(SafetensorsTensor(name: SafetensorsLayout.probeOutputs, shape: probes.outputs.shape, values: probes.outputs.scalars))
        }
        return SafetensorsFile(metadata: metadata, tensors: tensors)
    }

    /// Maps a parsed file to a document: every tensor must be claimed by the architecture, the optimizer or
    /// the probes.
    public static func document(from file: SafetensorsFile, name: String, architecture given: Architecture?) throws -> ModelDocument {
        func fail(_ tensor: String?, _ reason: String) -> SafetensorsError { .document(file: name, tensor: tensor, reason: reason) }
        var metadata = file.metadata ?? [:]
        if let version = metadata[SafetensorsLayout.formatVersionKey], version != SafetensorsLayout.formatVersion {
            throw fail(nil, "'__metadata__' \(SafetensorsLayout.formatVersionKey) is '\(version)'; this build reads version \(SafetensorsLayout.formatVersion)")
        }
        let architecture: Architecture
        if let json = metadata[SafetensorsLayout.architectureKey] {
            do {
                architecture = try Architecture.decode(json: Data(json.utf8))
            } catch {
                throw fail(nil, "'__metadata__' \(SafetensorsLayout.architectureKey): \(error)")
            }
        } else if let given {
            do { try given.validate() } catch { throw fail(nil, "the given architecture: \(error)") }
            architecture = given
        } else {
            throw SafetensorsError.missingArchitecture(file: name)
        }
        let specs: [ParameterSpec]
        do { specs = try architecture.parameterSpecs() } catch { throw fail(nil, "\(error)") }

        var state: TrainingState?
        if let json = metadata[SafetensorsLayout.trainingStateKey] {
            do {
                state = try ArchiveJSON.decoder().decode(TrainingState.self, from: Data(json.utf8))
            } catch {
                throw fail(nil, "'__metadata__' \(SafetensorsLayout.trainingStateKey) is not a training state: \(error)")
            }
        }

        let probesSource = metadata[SafetensorsLayout.probesSourceKey]
        for key in SafetensorsLayout.reservedKeys { metadata.removeValue(forKey: key) }
        var tensors: [String: Tensor] = [:]
        for t in file.tensors { tensors[t.name] = Tensor(shape: t.shape, scalars: t.values) }
        do {
            return try ModelDocument.assemble(
                tensors: tensors, architecture: architecture, specs: specs, state: state,
                probeNames: (SafetensorsLayout.probeInputs, SafetensorsLayout.probeOutputs), probesSource: probesSource, metadata: metadata,
                unclaimedReason: "is not a parameter of the architecture, an optimizer slot or a probe tensor")
        } catch {
            throw fail(error.name, error.reason)
        }
    }
}

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
                metadata[SafetensorsLayout.trainingStateKey] = String(decoding: try SafetensorsLayout.stateEncoder().encode(state), as: UTF8.self)
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
        var pool: [String: SafetensorsTensor] = [:]
        for t in file.tensors { pool[t.name] = t }
        func take(_ tensorName: String, shape: [Int]) throws -> Tensor {
            guard let t = pool.removeValue(forKey: tensorName) else {
                throw fail(tensorName, "missing (expected shape \(shape))")
            }
            guard t.shape == shape else { throw fail(tensorName, "expected shape \(shape), found \(t.shape)") }
            return Tensor(shape: t.shape, scalars: t.values)
        }
        let specs: [ParameterSpec]
        do { specs = try architecture.parameterSpecs() } catch { throw fail(nil, "\(error)") }
        var tensors: [NamedTensor] = []
        for spec in specs { tensors.append(NamedTensor(name: spec.name, tensor: try take(spec.name, shape: spec.shape))) }

        var state: TrainingState?
        if let json = metadata[SafetensorsLayout.trainingStateKey] {
            do {
                state = try SafetensorsLayout.stateDecoder().decode(TrainingState.self, from: Data(json.utf8))
            } catch {
                throw fail(nil, "'__metadata__' \(SafetensorsLayout.trainingStateKey) is not a training state: \(error)")
            }
            if var s = state {
                for spec in specs {
                    for slot in s.optimizer.slotNames {
                        let slotName = TrainingState.slotName(parameter: spec.name, slot: slot)
                        s.slots.append(NamedTensor(name: slotName, tensor: try take(slotName, shape: spec.shape)))
                    }
                }
                state = s
            }
        }

        var probes: Probes?
        let hasInputs = pool[SafetensorsLayout.probeInputs] != nil, hasOutputs = pool[SafetensorsLayout.probeOutputs] != nil
        if hasInputs || hasOutputs {
            guard hasInputs, hasOutputs else {
                throw fail(hasInputs ? SafetensorsLayout.probeOutputs : SafetensorsLayout.probeInputs, "missing (probes need both inputs and outputs)")
            }
            let n = pool[SafetensorsLayout.probeInputs]?.shape.first ?? 0
            let input = architecture.input
            let outputCount: Int
            do { outputCount = try architecture.outputShape().count } catch { throw fail(nil, "\(error)") }
            let inputs = try take(SafetensorsLayout.probeInputs, shape: [n, input.height, input.width, input.channels])
            let outputs = try take(SafetensorsLayout.probeOutputs, shape: [n, outputCount])
            probes = Probes(inputs: inputs, outputs: outputs, source: metadata[SafetensorsLayout.probesSourceKey] ?? "")
        }
        if let extra = pool.keys.sorted().first {
            throw fail(extra, "is not a parameter of the architecture, an optimizer slot or a probe tensor")
        }
        for key in SafetensorsLayout.reservedKeys { metadata.removeValue(forKey: key) }
        return ModelDocument(architecture: architecture, tensors: tensors, trainingState: state, probes: probes, metadata: metadata)
    }
}

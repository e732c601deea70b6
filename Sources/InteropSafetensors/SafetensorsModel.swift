#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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
        try StreamedModel(reader: SafetensorsTensorReader(path: path, architecture: architecture)).document()
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
        try write(StreamedModel(document: document), to: path)
    }

    /// Writes a model whose tensors are fetched one at a time, each written and released before the next:
    /// the same bytes as ``encode(_:)`` for the same model.
    ///
    /// - Throws: as ``write(_:to:)-(ModelDocument,_)``, or what fetching a tensor throws.
    public static func write(_ model: StreamedModel, to path: String) throws {
        let plan = try plan(model)
        try AtomicFile.write(to: path) { temp in
            let fd = open(temp, O_WRONLY | O_TRUNC | O_CLOEXEC)
            guard fd >= 0 else { throw SafetensorsError.cannotCreate(path: path, reason: errnoText()) }
            defer { close(fd) }
            func put(_ bytes: UnsafeRawBufferPointer) throws {
                do {
                    try FileIO.writeAll(fd, bytes)
                } catch {
                    throw SafetensorsError.writeFailed(path: path, reason: error.description)
                }
            }
            try plan.header.withUnsafeBytes { try put($0) }
            for t in plan.order {
                let scalars = try plan.fetch(t).scalars
                #if _endian(little)
                try scalars.withUnsafeBytes { try put($0) }
                #else
                var bytes: [UInt8] = []
                SafetensorsFile.appendLittleEndian(scalars, to: &bytes)
                try bytes.withUnsafeBytes { try put($0) }
                #endif
            }
        }
    }

    /// The bytes ``write(_:to:)-(ModelDocument,_)`` writes: deterministic for the same document.
    public static func encode(_ document: ModelDocument) throws -> [UInt8] {
        let model = StreamedModel(document: document)
        let plan = try plan(model)
        var out = plan.header
        for t in plan.order { SafetensorsFile.appendLittleEndian(try plan.fetch(t).scalars, to: &out) }
        return out
    }

    /// What a write puts in the file: the header bytes, the tensors in file order, and how to fetch each
    /// (parameters and slots from the model, probes from its probes). Checked first as a reader will check it:
    /// what we write must be a model we read.
    private static func plan(_ model: StreamedModel) throws -> (header: [UInt8], order: [TensorDescriptor], fetch: (TensorDescriptor) throws -> Tensor) {
        for key in model.metadata.keys where SafetensorsLayout.reservedKeys.contains(key) {
            throw SafetensorsError.invalidWrite(reason: "metadata key '\(key)' is reserved for CNNKit's own data")
        }
        var metadata = model.metadata
        metadata[SafetensorsLayout.formatVersionKey] = SafetensorsLayout.formatVersion
        metadata[SafetensorsLayout.architectureKey] = model.architecture.jsonString()
        var descriptors = model.parameters
        if let state = model.trainingState {
            do {
                metadata[SafetensorsLayout.trainingStateKey] = String(decoding: try ArchiveJSON.encoder().encode(state), as: UTF8.self)
            } catch {
                throw SafetensorsError.invalidWrite(reason: "training state cannot be encoded: \(error)")
            }
            descriptors += model.slots
        }
        var probeTensors: [String: Tensor] = [:]
        if let probes = model.probes {
            metadata[SafetensorsLayout.probesSourceKey] = probes.source
            probeTensors[SafetensorsLayout.probeInputs] = probes.inputs
            probeTensors[SafetensorsLayout.probeOutputs] = probes.outputs
            for (name, t) in probeTensors.sorted(by: { $0.key < $1.key }) {
                guard Tensor.elementCount(t.shape) == t.scalars.count else {
                    throw SafetensorsError.invalidWrite(reason: "tensor \(name) has shape \(t.shape) but \(t.scalars.count) values")
                }
            }
            descriptors += [TensorDescriptor(name: SafetensorsLayout.probeInputs, shape: probes.inputs.shape),
                            TensorDescriptor(name: SafetensorsLayout.probeOutputs, shape: probes.outputs.shape)]
        }
        let (header, order) = try SafetensorsFile.header(metadata: metadata, tensors: descriptors)
        var shapes: [String: [Int]] = [:]
        for d in descriptors { shapes[d.name] = d.shape }
        do {
            _ = try layout(metadata: metadata, shapes: shapes, name: "(output)", architecture: nil)
        } catch let error as SafetensorsError {
            if case let .document(_, tensor, reason) = error {
                throw SafetensorsError.invalidWrite(reason: tensor.map { "tensor \($0): \(reason)" } ?? reason)
            }
            throw error
        }
        let fetch: (TensorDescriptor) throws -> Tensor = { d in
            if let t = probeTensors[d.name] { return t }
            return try model.fetch(d)
        }
        return (header, order, fetch)
    }

    /// Maps a parsed file to a document: every tensor must be claimed by the architecture, the optimizer or
    /// the probes.
    public static func document(from file: SafetensorsFile, name: String, architecture given: Architecture?) throws -> ModelDocument {
        var shapes: [String: [Int]] = [:], values: [String: Tensor] = [:]
        for t in file.tensors {
            shapes[t.name] = t.shape
            values[t.name] = Tensor(shape: t.shape, scalars: t.values)
        }
        let mapped = try layout(metadata: file.metadata, shapes: shapes, name: name, architecture: given)
        func value(_ d: TensorDescriptor) -> NamedTensor { NamedTensor(name: d.name, tensor: values[d.name] ?? Tensor(zeros: d.shape)) }
        var state = mapped.layout.trainingState
        state?.slots = mapped.layout.slots.map(value)
        let probes = mapped.layout.probes.map { Probes(inputs: value($0.inputs).tensor, outputs: value($0.outputs).tensor, source: mapped.probesSource ?? "") }
        return ModelDocument(architecture: mapped.architecture, tensors: mapped.layout.parameters.map(value), trainingState: state,
                             probes: probes, metadata: mapped.metadata)
    }

    /// Maps a header (`__metadata__` and the tensors' shapes) onto the architecture it records, or the one
    /// given: which tensors are parameters, slots and probes, and the document's own metadata.
    ///
    /// - Throws: ``SafetensorsError/missingArchitecture(file:)`` or ``SafetensorsError/document(file:tensor:reason:)``.
    static func layout(metadata stored: [String: String]?, shapes: [String: [Int]], name: String, architecture given: Architecture?) throws
        -> (architecture: Architecture, layout: DocumentLayout, probesSource: String?, metadata: [String: String]) {
        func fail(_ tensor: String?, _ reason: String) -> SafetensorsError { .document(file: name, tensor: tensor, reason: reason) }
        var metadata = stored ?? [:]
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
        do {
            let layout = try DocumentLayout(shapes: shapes, architecture: architecture, specs: specs, state: state,
                                            probeNames: (SafetensorsLayout.probeInputs, SafetensorsLayout.probeOutputs),
                                            unclaimedReason: "is not a parameter of the architecture, an optimizer slot or a probe tensor")
            return (architecture, layout, probesSource, metadata)
        } catch {
            throw fail(error.name, error.reason)
        }
    }
}

import ConvNet
import Foundation
import ModelArchive

/// CNNKit's own record in a `.pt` it writes (`<archive>/cnnkit/model.json`): the architecture and metadata
/// a state dict cannot hold. PyTorch ignores it.
struct CNNKitRecord: Codable, Equatable {
    /// The record's member name inside the archive folder.
    static let member = "cnnkit/model.json"
    /// The probes' float32 members, beside the record.
    static let probeInputs = "cnnkit/probes.inputs"
    static let probeOutputs = "cnnkit/probes.outputs"
    static let currentVersion = "1"

    /// The probes' source and shapes (their values are the members ``probeInputs`` and ``probeOutputs``).
    struct ProbeShapes: Codable, Equatable {
        var source: String
        var inputs: [Int]
        var outputs: [Int]
    }

    var formatVersion: String
    /// Architecture JSON (`Schemas/architecture.schema.json`).
    var architecture: String
    var metadata: [String: String]
    var probes: ProbeShapes?

    enum CodingKeys: String, CodingKey { case formatVersion = "format_version", architecture, metadata, probes }
}

/// A `.pt` state dict opened for streaming: the zip's members are checked, `data.pkl` is run through the
/// data-only ``PickleMachine`` and every storage checked against its member when the file is opened; the
/// state dict is mapped onto the architecture (given, recorded by CNNKit, or inferred); each parameter is read,
/// widened to float32 and moved into CNNKit's layout when asked.
public final class PyTorchTensorReader: TensorStreamReader {
    public let file: String
    /// No training state: a state dict holds none.
    public let header: ModelHeader
    public let formatVersion: String
    public let inferredArchitecture: String?
    /// The state dict's entries in file order.
    public let entries: [(key: String, tensor: PickledTensor)]
    private let archive: PyTorchArchive
    private let sources: [String: (parameter: MappedParameter, tensor: PickledTensor)]

    /// Opens and checks a file, reading its pickle (never its storages' values).
    ///
    /// - Parameter architecture: used when the file carries no CNNKit record; nil infers one from the keys.
    /// - Throws: a ``PyTorchError``.
    public init(path: String, architecture given: Architecture? = nil, limits: PickleLimits = .init()) throws {
        file = path
        let archive = try PyTorchArchive(path: path)
        self.archive = archive
        let pickleMember = archive.prefix + "data.pkl"
        let pickle = try archive.read(pickleMember, limit: UInt64(limits.maxBytes))
        var machine = PickleMachine(bytes: pickle, file: path, member: pickleMember, limits: limits) { key, dtype, count in
            let member = archive.prefix + "data/" + key
            guard let size = archive.size(of: member) else {
                throw PyTorchError.storage(file: path, member: member, reason: "is missing: the pickle names storage \(key)")
            }
            let (needed, overflow) = count.multipliedReportingOverflow(by: dtype.size)
            guard !overflow, UInt64(needed) == size else {
                throw PyTorchError.storage(file: path, member: member, reason: "holds \(size) bytes, but the pickle's storage \(key) of \(count) \(dtype.rawValue) elements needs \(overflow ? "more than 2^63" : String(needed))")
            }
        }
        entries = try machine.stateDict()
        var record: CNNKitRecord?
        if archive.contains(archive.prefix + CNNKitRecord.member) {
            let member = archive.prefix + CNNKitRecord.member
            do {
                record = try JSONDecoder().decode(CNNKitRecord.self, from: Data(try archive.read(member, limit: 16 << 20)))
            } catch let error as PyTorchError {
                throw error
            } catch {
                throw PyTorchError.archive(file: path, member: member, reason: "is not CNNKit's record: \(error)")
            }
            guard record?.formatVersion == CNNKitRecord.currentVersion else {
                throw PyTorchError.archive(file: path, member: member, reason: "format_version '\(record?.formatVersion ?? "")'; this build reads \(CNNKitRecord.currentVersion)")
            }
        }
        var chosen = given
        if let record {
            do {
                chosen = try Architecture.decode(json: Data(record.architecture.utf8))
            } catch {
                throw PyTorchError.archive(file: path, member: archive.prefix + CNNKitRecord.member, reason: "architecture: \(error)")
            }
        }
        for (key, tensor) in entries where !tensor.dtype.isFloat {
            throw PyTorchError.tensor(file: path, key: key, reason: "dtype \(tensor.dtype.rawValue) (torch.\(tensor.dtype.storageClass)); CNNKit reads float32, float64, float16 and bfloat16 parameters")
        }
        let mapping = try PyTorchMapping.map(entries.map { TensorDescriptor(name: $0.key, shape: $0.tensor.shape) }, architecture: chosen, file: path)
        var metadata = record?.metadata ?? [:]
        inferredArchitecture = mapping.inferred
        if let inferred = mapping.inferred { metadata[PyTorchMapping.inferredKey] = inferred }
        let byKey = Dictionary(entries.map { ($0.key, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        var sources: [String: (MappedParameter, PickledTensor)] = [:]
        for p in mapping.parameters { sources[p.descriptor.name] = (p, byKey[p.key]!) }
        self.sources = sources
        var probes: Probes?
        if let shapes = record?.probes {
            func tensor(_ member: String, _ shape: [Int]) throws -> Tensor {
                let name = archive.prefix + member
                guard let count = Tensor.elementCount(shape), count <= 1 << 28 else {
                    throw PyTorchError.archive(file: path, member: archive.prefix + CNNKitRecord.member, reason: "probe shape \(shape) is invalid")
                }
                let bytes = try archive.read(name, limit: UInt64(count * 4))
                guard bytes.count == count * 4 else {
                    throw PyTorchError.archive(file: path, member: name, reason: "holds \(bytes.count) bytes, the probe shape \(shape) needs \(count * 4)")
                }
                return Tensor(shape: shape, scalars: bytes.withUnsafeBytes { TorchDType.float32.decodeFloats($0, first: 0, count: count) })
            }
            probes = Probes(inputs: try tensor(CNNKitRecord.probeInputs, shapes.inputs), outputs: try tensor(CNNKitRecord.probeOutputs, shapes.outputs),
                            source: shapes.source)
        }
        header = ModelHeader(architecture: mapping.architecture, probes: probes, metadata: metadata, parameters: mapping.parameters.map(\.descriptor))
        let kind = record == nil ? "PyTorch state dict" : "PyTorch state dict written by CNNKit"
        formatVersion = kind + (archive.version.map { " (torch.save zip, version \($0))" } ?? " (torch.save zip)")
    }

    public func readTensor(named name: String) throws -> Tensor {
        guard let (parameter, view) = sources[name] else { throw ConvNetError.missingParameter(name: name) }
        let values = try Self.values(of: view, in: archive)
        return Tensor(shape: parameter.descriptor.shape, scalars: parameter.transform.toCNNKit(values, nchwShape: parameter.torchShape))
    }

    public func storage(of name: String) -> TensorStorage? {
        guard let (_, view) = sources[name] else { return nil }
        return TensorStorage(dtype: view.dtype.rawValue, codec: view.isContiguous ? "stored" : "stored, strided view",
                             storedBytes: view.storageCount * view.dtype.size, rawBytes: view.count * 4)
    }

    /// A view's values, row-major, as float32: its storage member read whole, then the view's elements.
    static func values(of view: PickledTensor, in archive: PyTorchArchive) throws -> [Float] {
        let member = archive.prefix + "data/" + view.storageKey
        let bytes = try archive.read(member)
        guard bytes.count == view.storageCount * view.dtype.size else {
            throw PyTorchError.storage(file: archive.file, member: member, reason: "holds \(bytes.count) bytes, the storage needs \(view.storageCount * view.dtype.size)")
        }
        return bytes.withUnsafeBytes { raw in
            if view.isContiguous { return view.dtype.decodeFloats(raw, first: view.offset, count: view.count) }
            // Explicit strides: walk the index space in row-major order.
            var out: [Float] = []
            out.reserveCapacity(view.count)
            guard view.count > 0 else { return out }
            var index = [Int](repeating: 0, count: view.shape.count)
            var position = view.offset
            for _ in 0..<view.count {
                out += view.dtype.decodeFloats(raw, first: position, count: 1)
                var d = view.shape.count - 1
                while d >= 0 {
                    index[d] += 1
                    position += view.strides[d]
                    if index[d] < view.shape[d] { break }
                    position -= view.strides[d] * view.shape[d]
                    index[d] = 0
                    d -= 1
                }
            }
            return out
        }
    }
}

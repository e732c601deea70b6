import ConvNet
import Foundation
import ModelArchive
import SwiftProtobuf

/// An ONNX model opened for reading (`Schemas/onnx.md` section 4): the file (at most
/// ``SafetyLimits/maxONNXModelBytes``) is decoded by the generated `onnx.proto` types except the initializers'
/// values (``ONNXFileScan``), its graph read as an architecture (``ONNXImport``); each parameter's values are
/// read, checked and moved into CNNKit's layout when asked (external data after its path was checked), so
/// memory stays near the largest tensor.
public final class ONNXTensorReader: TensorStreamReader {
    public let file: String
    /// No training state: ONNX holds none.
    public let header: ModelHeader
    public let formatVersion: String
    public let inferredArchitecture: String?
    private let sources: [String: ONNXImport.Source]
    private let data: ONNXTensorData

    /// Opens, decodes and reads a model's graph (no parameter values yet).
    ///
    /// - Throws: an ``ONNXError`` (every one exit 65), or ``ArchiveError`` when the file cannot be opened.
    public init(path: String) throws {
        file = path
        let scan = try Self.scan(path)
        let model = scan.model
        data = ONNXTensorData(file: path, rawRanges: scan.rawRanges)
        let read = try ONNXImport.read(model, data: data)
        sources = Dictionary(read.sources.map { ($0.descriptor.name, $0) }, uniquingKeysWith: { a, _ in a })
        inferredArchitecture = read.notes
        var metadata: [String: String] = [:]
        var probes: Probes?
        for entry in model.metadataProps where entry.key != ONNXExport.architectureKey {
            guard metadata[entry.key] == nil, !(entry.key == ONNXRecord.probesKey && probes != nil) else {
                throw ONNXError.graph(file: path, node: nil, reason: "metadata_props key \(entry.key) appears twice")
            }
            if entry.key == ONNXRecord.probesKey { probes = try ONNXRecord.probes(entry.value, file: path) } else { metadata[entry.key] = entry.value }
        }
        if let notes = read.notes { metadata[ONNXImport.importKey] = notes }
        header = ModelHeader(architecture: read.architecture, probes: probes, metadata: metadata, parameters: read.sources.map(\.descriptor))
        let opset = model.opsetImport.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }.map { ", opset \($0.version)" } ?? ""
        let producer = model.producerName.isEmpty ? "" : ", from \(model.producerName)" + (model.producerVersion.isEmpty ? "" : " \(model.producerVersion)")
        formatVersion = "IR version \(model.irVersion)\(opset)\(producer)"
    }

    /// The file scanned and decoded (``ONNXFileScan``): every field but the initializers' `raw_data`.
    static func scan(_ path: String) throws -> ONNXFileScan {
        let fd: Int32, size: UInt64
        do {
            (fd, size) = try FileIO.openRegularFile(path)
        } catch {
            throw error.code == ENOENT ? ArchiveError.missingFile(path: path, reason: "\(error)") : ONNXError.invalid(file: path, reason: "cannot be opened: \(error)")
        }
        defer { close(fd) }
        guard size <= SafetyLimits.maxONNXModelBytes else {
            throw ONNXError.invalid(file: path, reason: "\(size) bytes, more than the \(SafetyLimits.maxONNXModelBytes) a protobuf message can hold (weights that large belong in external data)")
        }
        return try ONNXFileScan.scan(fd: fd, size: size, file: path)
    }

    static func describe(_ error: BinaryDecodingError) -> String {
        switch error {
        case .truncated: "truncated (a field or length runs past the end of the file)"
        case .malformedProtobuf: "malformed protobuf (an invalid key or wire type, or a length past the end of the file)"
        case .invalidUTF8: "a string that is not UTF-8"
        case .messageDepthLimit: "messages nested deeper than 64"
        case .missingRequiredFields: "required fields missing"
        default: "\(error)"
        }
    }

    public func readTensor(named name: String) throws -> Tensor {
        guard let source = sources[name] else { throw ConvNetError.missingParameter(name: name) }
        let values = try data.floats(source.tensor)
        return Tensor(shape: source.descriptor.shape, scalars: source.transform.toCNNKit(values, nchwShape: source.nchwShape))
    }

    public func storage(of name: String) -> TensorStorage? {
        guard let source = sources[name] else { return nil }
        let count = source.descriptor.shape.reduce(1, *)
        let codec = source.tensor.dataLocation == .external ? "external data" : data.rawRanges[source.tensor.name] != nil || source.tensor.hasRawData ? "raw_data" : "float_data"
        return TensorStorage(dtype: "float32", codec: codec, storedBytes: count * 4, rawBytes: count * 4)
    }
}

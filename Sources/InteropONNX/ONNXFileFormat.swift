import ConvNet
import ModelArchive

/// The ONNX format: read (graphs of the supported family, from `torch.onnx.export` and CNNKit) and written
/// (opset 13), on the types generated from `onnx.proto` (`Schemas/onnx.md`).
public struct ONNXFileFormat: ModelFileFormat {
    public init() {}

    public let info = FormatInfo(format: "onnx", displayName: "ONNX", extensions: ["onnx"], capabilities: .init(compression: false, trainingState: false),
        integrity: "ONNX protobuf decoded and every tensor's size checked against its dims (ONNX has no checksums)")

    /// The start of a serialized `ModelProto`: `0x08` (field 1 `ir_version`, varint), a one-byte version 1-127,
    /// then the key of `producer_name` (2), `producer_version` (3), `domain` (4), `model_version` (5),
    /// `doc_string` (6), `graph` (7), `opset_import` (8) or `metadata_props` (14).
    public func recognizes(prefix: [UInt8]) -> Bool {
        guard prefix.count >= 3, prefix[0] == 0x08, (1...0x7F).contains(prefix[1]) else { return false }
        return [0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72].contains(prefix[2])
    }

    public func openReader(path: String, architecture: Architecture?) throws -> any TensorStreamReader {
        try ONNXTensorReader(path: path)
    }

    public func write(_ model: StreamedModel, to path: String, options: SaveOptions) throws {
        try check(options, path: path)
        try ONNXExport.write(model, to: path)
    }
}

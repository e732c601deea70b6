import ModelArchive

/// Errors of the ONNX exporter (`Schemas/onnx-export.md`).
///
/// ``description`` is one lowercase line naming the tensor or layer; ``category`` maps the case to an exit code.
public enum ONNXError: Error, Sendable, Equatable, ModelFileError {
    /// The document's tensors do not match its architecture (missing, unknown or mis-shaped tensor).
    case tensorMismatch(tensor: String, reason: String)
    /// The architecture is invalid or holds something the exporter cannot express.
    case unsupportedArchitecture(layer: String?, reason: String)

    public var description: String {
        switch self {
        case let .tensorMismatch(tensor, reason): "onnx export: tensor \(tensor): \(reason)"
        case let .unsupportedArchitecture(layer, reason): "onnx export: " + (layer.map { "layer \($0): " } ?? "") + reason
        }
    }

    public var category: ModelFileErrorCategory {
        switch self {
        case .tensorMismatch: .invalidInput
        case .unsupportedArchitecture: .unsupported
        }
    }
}

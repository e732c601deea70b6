import ModelArchive

/// Errors of the ONNX exporter and importer (`Schemas/onnx.md`).
///
/// ``description`` is one lowercase line naming the file, node or tensor; ``category`` maps the case to an exit
/// code. Every refusal of an input file is ``ModelFileErrorCategory/invalidInput`` (exit 65).
public enum ONNXError: Error, Sendable, Equatable, ModelFileError {
    /// Export: the document's tensors do not match its architecture (missing, unknown or mis-shaped tensor).
    case tensorMismatch(tensor: String, reason: String)
    /// Export: the architecture is invalid or holds something the exporter cannot express.
    case unsupportedArchitecture(layer: String?, reason: String)
    /// Import: the file is not a well-formed ONNX `ModelProto` (truncated, a length past the end, too large).
    case invalid(file: String, reason: String)
    /// Import: a node whose operator CNNKit does not map.
    case unsupportedOperator(file: String, node: String, op: String, supported: [String])
    /// Import: the graph is outside the supported family (not a chain, an attribute CNNKit cannot express).
    case graph(file: String, node: String?, reason: String)
    /// Import: an initializer or constant that cannot be read (dtype, size, shape).
    case tensor(file: String, tensor: String, reason: String)
    /// Import: an external-data reference that is refused or does not fit its file.
    case externalData(file: String, tensor: String, reason: String)

    public var description: String {
        switch self {
        case let .tensorMismatch(tensor, reason): "onnx export: tensor \(tensor): \(reason)"
        case let .unsupportedArchitecture(layer, reason): "onnx export: " + (layer.map { "layer \($0): " } ?? "") + reason
        case let .invalid(file, reason): "\(file): not a readable ONNX model: \(reason)"
        case let .unsupportedOperator(file, node, op, supported):
            "\(file): node \(node): unsupported operator \(op); CNNKit imports \(supported.joined(separator: ", "))"
        case let .graph(file, node, reason): "\(file): " + (node.map { "node \($0): " } ?? "") + reason
        case let .tensor(file, tensor, reason): "\(file): tensor \(tensor): \(reason)"
        case let .externalData(file, tensor, reason): "\(file): tensor \(tensor): external data refused: \(reason)"
        }
    }

    public var category: ModelFileErrorCategory {
        switch self {
        case .tensorMismatch: .invalidInput
        case .unsupportedArchitecture: .unsupported
        case .invalid, .unsupportedOperator, .graph, .tensor, .externalData: .invalidInput
        }
    }
}

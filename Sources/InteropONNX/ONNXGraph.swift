/// An ONNX graph as the exporter builds it, before encoding: nodes in topological order, float32 initializers,
/// one input and one output (`Schemas/onnx-export.md` section 2).
public struct ONNXGraph: Sendable, Hashable {
    /// One attribute of a node: the exporter needs only integers and integer lists.
    public enum Attribute: Sendable, Hashable {
        case int(String, Int)
        case ints(String, [Int])

        public var name: String {
            switch self {
            case let .int(name, _), let .ints(name, _): name
            }
        }
    }

    /// One operator application.
    public struct Node: Sendable, Hashable {
        public var opType: String
        public var name: String
        public var inputs: [String]
        public var outputs: [String]
        public var attributes: [Attribute]
    }

    /// A constant float32 tensor.
    public struct Initializer: Sendable, Hashable {
        public var name: String
        public var dims: [Int]
        public var values: [Float]
    }

    /// A graph input or output: float32 with the given dims, nil for the symbolic batch dimension `N`.
    public struct Value: Sendable, Hashable {
        public var name: String
        public var dims: [Int?]
    }

    public var name: String
    public var nodes: [Node]
    public var initializers: [Initializer]
    public var input: Value
    public var output: Value
}

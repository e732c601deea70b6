/// An ONNX graph as the exporter builds it, before encoding: nodes in topological order, float32 initializers,
/// one input and one output (`Schemas/onnx.md` section 2).
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

    /// A constant float32 tensor: its values are given, or fetched from the model when it is written.
    public struct Initializer: Sendable, Hashable {
        public var name: String
        public var dims: [Int]
        public var values: Values

        /// Where an initializer's values come from.
        public enum Values: Sendable, Hashable {
            /// Given here (the preprocessing scalars).
            case constant([Float])
            /// The model's parameter of that name, as stored (dense kernels, biases).
            case parameter(String)
            /// The model's convolution kernel of that name, `[kh, kw, in, out]` reordered to `[out, in, kh, kw]`.
            case convolutionKernel(String, kh: Int, kw: Int, cin: Int, cout: Int)
        }

        /// The number of values (the product of ``dims``).
        public var count: Int { dims.reduce(1, *) }
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

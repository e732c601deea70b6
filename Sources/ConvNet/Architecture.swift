/// Padding of a convolution or pooling window, with Keras' meaning.
///
/// `valid` uses no padding; `same` pads so that the output has `ceil(input / stride)` positions, with the smaller
/// half of the padding before and the larger after (as TensorFlow and Keras do).
public enum Padding: String, Codable, Sendable, CaseIterable {
    case valid
    case same
}

/// A 2-D convolution layer (cross-correlation, no kernel flip).
public struct Conv2DSpec: Sendable, Hashable {
    /// Output channels.
    public var filters: Int
    /// Kernel height and width.
    public var kernel: [Int]
    /// Vertical and horizontal stride.
    public var stride: [Int]
    /// `valid` (no padding) or `same` (output size = ceil(input / stride)).
    public var padding: Padding
    /// Whether a bias is added.
    public var bias: Bool

    /// A conv layer's settings; the defaults are the seed network's.
    public init(filters: Int, kernel: [Int] = [3, 3], stride: [Int] = [1, 1], padding: Padding = .valid, bias: Bool = false) {
        self.filters = filters
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.bias = bias
    }
}

/// A 2-D max-pooling layer; `valid` padding floors odd sizes (26 -> 13, 27 -> 13).
public struct MaxPool2DSpec: Sendable, Hashable {
    /// Window height and width.
    public var pool: [Int]
    /// Vertical and horizontal stride.
    public var stride: [Int]
    /// `valid` (no padding) or `same` (output size = ceil(input / stride)).
    public var padding: Padding

    /// A pooling layer's settings; the stride defaults to the pool size.
    public init(pool: [Int] = [2, 2], stride: [Int]? = nil, padding: Padding = .valid) {
        self.pool = pool
        self.stride = stride ?? pool
        self.padding = padding
    }
}

/// A fully connected layer `y = x W + b`.
public struct DenseSpec: Sendable, Hashable {
    /// Outputs.
    public var units: Int
    /// Whether a bias is added.
    public var bias: Bool

    /// A dense layer's settings.
    public init(units: Int, bias: Bool = true) {
        self.units = units
        self.bias = bias
    }
}

/// One layer of a sequential network.
public enum LayerKind: Sendable, Hashable {
    case conv2d(Conv2DSpec)
    case relu
    case maxPool2d(MaxPool2DSpec)
    case flatten
    case dense(DenseSpec)
    case softmax

    /// The type tag used in architecture JSON.
    public var typeName: String {
        switch self {
        case .conv2d: "conv2d"
        case .relu: "relu"
        case .maxPool2d: "maxpool2d"
        case .flatten: "flatten"
        case .dense: "dense"
        case .softmax: "softmax"
        }
    }

    /// The Keras base name used for automatic layer names (`conv2d`, `max_pooling2d`, ...).
    public var kerasBaseName: String {
        switch self {
        case .conv2d: "conv2d"
        case .relu: "re_lu"
        case .maxPool2d: "max_pooling2d"
        case .flatten: "flatten"
        case .dense: "dense"
        case .softmax: "softmax"
        }
    }
}

/// A named layer.
public struct Layer: Sendable, Hashable {
    /// The layer's name, unique in the architecture; tensor names start with it.
    public var name: String
    /// What the layer does, with its settings.
    public var kind: LayerKind

    /// A named layer.
    public init(name: String, kind: LayerKind) {
        self.name = name
        self.kind = kind
    }
}

/// The model's own preprocessing, `x = pixel * scale + offset`, applied to raw pixels.
public struct Preprocessing: Sendable, Hashable, Codable {
    /// Multiplies each raw pixel.
    public var scale: Float
    /// Added after scaling.
    public var offset: Float

    /// Preprocessing `x * scale + offset`.
    public init(scale: Float, offset: Float) {
        self.scale = scale
        self.offset = offset
    }

    /// The seed's normalisation: `pixel / 255 - 0.5`.
    public static let seed = Preprocessing(scale: 1.0 / 255.0, offset: -0.5)
}

/// The extent of an activation: height x width x channels (a flat vector has height = width = 1).
public struct ActivationShape: Sendable, Hashable, CustomStringConvertible {
    /// Rows.
    public var height: Int
    /// Columns.
    public var width: Int
    /// Channels (C fastest in memory).
    public var channels: Int
    /// True once flattened: printed as `(n)` rather than `(h, w, c)`.
    public var isFlat: Bool

    /// A shape; `isFlat` marks a flattened vector.
    public init(height: Int, width: Int, channels: Int, isFlat: Bool = false) {
        self.height = height
        self.width = width
        self.channels = channels
        self.isFlat = isFlat
    }

    /// Values in the activation.
    public var count: Int { height * width * channels }
    /// `[h, w, c]`, or `[n]` once flattened.
    public var dimensions: [Int] { isFlat ? [count] : [height, width, channels] }
    public var description: String { "(" + dimensions.map(String.init).joined(separator: ", ") + ")" }
}

/// A sequential network's architecture: input shape, preprocessing and layers.
///
/// Encodes to and decodes from the JSON of `Schemas/architecture.schema.json`. Decoding fills in Keras-style
/// names for layers that have none; ``validate()`` checks that every layer fits the shape it receives.
public struct Architecture: Sendable, Hashable {
    /// The input images' shape.
    public var input: ActivationShape
    /// What the model does to raw pixels first.
    public var preprocessing: Preprocessing
    /// The layers, in order.
    public var layers: [Layer]

    /// An architecture from its parts.
    public init(input: ActivationShape, preprocessing: Preprocessing = .seed, layers: [Layer]) {
        self.input = input
        self.preprocessing = preprocessing
        self.layers = layers
    }

    /// Creates an architecture naming unnamed layers the way Keras does (`conv2d`, `conv2d_1`, ...).
    public init(input: ActivationShape, preprocessing: Preprocessing = .seed, kinds: [LayerKind]) {
        self.init(input: input, preprocessing: preprocessing, layers: Architecture.autoNamed(kinds.map { (nil, $0) }))
    }

    /// The seed network: conv2d(16, 3x3, valid, no bias) -> maxpool(2) -> flatten -> dense(10) -> softmax.
    public static let seed = Architecture(
        input: ActivationShape(height: 28, width: 28, channels: 1),
        kinds: [
            .conv2d(Conv2DSpec(filters: 16)),
            .maxPool2d(MaxPool2DSpec()),
            .flatten,
            .dense(DenseSpec(units: 10)),
            .softmax,
        ]
    )

    static func autoNamed(_ layers: [(String?, LayerKind)]) -> [Layer] {
        var used = Set(layers.compactMap { $0.0 })
        var counters: [String: Int] = [:]
        return layers.map { name, kind in
            if let name { return Layer(name: name, kind: kind) }
            let base = kind.kerasBaseName
            while true {
                let n = counters[base, default: 0]
                counters[base] = n + 1
                let candidate = n == 0 ? base : "\(base)_\(n)"
                if !used.contains(candidate) {
                    used.insert(candidate)
                    return Layer(name: candidate, kind: kind)
                }
            }
        }
    }
}

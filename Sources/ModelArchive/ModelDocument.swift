import ConvNet

/// Inputs stored in a model file with the outputs the model gave for them when it was saved.
///
/// The verifier reruns ``inputs`` through the forward pass and compares with ``outputs``.
public struct Probes: Sendable, Hashable {
    /// Raw pixels (before the model's preprocessing), `[n, h, w, c]`.
    public var inputs: Tensor
    /// The model's float32 outputs for them, `[n, outputs]`.
    public var outputs: Tensor
    /// Where the inputs came from, such as `fashion-mnist:test[0..<8]` or `random:seed=0`.
    public var source: String

    /// Probes from their parts.
    public init(inputs: Tensor, outputs: Tensor, source: String) {
        self.inputs = inputs
        self.outputs = outputs
        self.source = source
    }

    /// The number of probe images.
    public var count: Int { inputs.shape.first ?? 0 }
}

/// A model as every file format sees it: architecture, ordered named tensors in the exchange layout, optional
/// training state and probes, and string metadata.
///
/// Data flows one way: `Network` <-> `ModelDocument` <-> one format module <-> bytes.
public struct ModelDocument: Sendable, Hashable {
    /// The architecture.
    public var architecture: Architecture
    /// Parameters in the exchange layout and order (`conv2d.kernel`, `dense.kernel`, `dense.bias`, ...).
    public var tensors: [NamedTensor]
    /// The training state, with its slot tensors; nil for weights only.
    public var trainingState: TrainingState?
    /// The probes, if recorded.
    public var probes: Probes?
    /// Free-form string metadata (sorted by key when written).
    public var metadata: [String: String]

    /// A document from its parts.
    public init(architecture: Architecture, tensors: [NamedTensor], trainingState: TrainingState? = nil,
                probes: Probes? = nil, metadata: [String: String] = [:]) {
        self.architecture = architecture
        self.tensors = tensors
        self.trainingState = trainingState
        self.probes = probes
        self.metadata = metadata
    }

    /// A document for a network's current parameters.
    public init(network: Network, trainingState: TrainingState? = nil, probes: Probes? = nil, metadata: [String: String] = [:]) {
        self.init(architecture: network.architecture, tensors: network.parameters, trainingState: trainingState,
                  probes: probes, metadata: metadata)
    }

    /// Builds the network the document describes.
    ///
    /// - Throws: a `ConvNetError` naming the tensor that is missing, unknown or mis-shaped.
    public func network() throws -> Network {
        try Network(architecture: architecture, parameters: tensors)
    }
}

extension Probes {
    /// Deterministic pseudo-random probe images (uniform bytes 0-255) for when no training data is known.
    public static func randomInputs(shape: ActivationShape, count: Int = 4, seed: UInt64 = 0) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        let n = shape.count * count
        let scalars = (0..<n).map { _ in Float(rng.next(below: 256)) }
        return Tensor(shape: [count] + [shape.height, shape.width, shape.channels], scalars: scalars)
    }

    /// The first `count` images of a data set as probe inputs.
    public static func inputs(from data: Dataset, count: Int = 8) -> Tensor {
        let n = min(count, data.count)
        let scalars = data.images[0..<(n * data.imageSize)].map(Float.init)
        return Tensor(shape: [n, data.height, data.width, data.channels], scalars: Array(scalars))
    }

    /// Runs `inputs` through `network` and records its outputs.
    public static func record(network: Network, inputs: Tensor, source: String) throws -> Probes {
        let outputs = try network.predict(.floats(inputs.scalars))
        return Probes(inputs: inputs, outputs: Tensor(shape: [inputs.shape.first ?? 0, network.outputCount], scalars: outputs), source: source)
    }
}

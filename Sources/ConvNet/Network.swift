/// One layer resolved against its input shape, with offsets into the flat parameter buffer.
enum Operation: Sendable {
    case conv(ConvPlan, weights: Int, bias: Int?)
    case relu(count: Int)
    case maxPool(WindowPlan)
    case flatten(count: Int)
    case dense(inCount: Int, outCount: Int, weights: Int, bias: Int?)
    case softmax(count: Int)
}

/// Where one exchange-layout parameter lives in the flat internal buffer.
public struct ParameterSlot: Sendable, Hashable {
    /// The parameter it holds.
    public var spec: ParameterSpec
    /// Offset of the first scalar in the flat buffer.
    public var offset: Int
    /// Scalars.
    public var count: Int
    /// True for dense kernels, stored internally as `[out, in]` (exchange layout is `[in, out]`).
    public var isTransposed: Bool
}

/// A sequential network: an architecture and its parameters.
///
/// Parameters live in one flat float32 buffer in the internal compute layout; ``parameters`` and
/// ``load(parameters:)`` translate to and from the exchange layout (`conv.kernel [kh, kw, in, out]`,
/// `dense.kernel [in, out]`, biases `[n]`).
public struct Network: Sendable {
    /// The architecture the network runs.
    public let architecture: Architecture
    /// The shape entering each layer, then the output shape.
    public let shapes: [ActivationShape]
    /// Where each parameter lives in ``flatParameters``.
    public let slots: [ParameterSlot]
    let operations: [Operation]
    /// Every parameter, flat, in internal layout.
    public internal(set) var flatParameters: [Float]

    /// Builds a network with all parameters zero.
    ///
    /// - Throws: ``ConvNetError/invalidArchitecture(layer:reason:)`` if the architecture does not validate.
    public init(architecture: Architecture) throws {
        let plan = try NetworkPlan(architecture: architecture)
        self.architecture = architecture
        shapes = plan.shapes
        slots = plan.slots
        operations = plan.operations
        flatParameters = [Float](repeating: 0, count: plan.parameterCount)
    }

    /// The number of scalars one input image holds (H x W x C).
    public var inputCount: Int { shapes[0].count }
    /// The number of scalars the network outputs per image.
    public var outputCount: Int { shapes[shapes.count - 1].count }
    /// True when the last layer is softmax, which training requires.
    public var endsWithSoftmax: Bool {
        if case .softmax? = architecture.layers.last?.kind { return true }
        return false
    }

    // MARK: Exchange layout

    /// The parameters in order, in the exchange layout.
    public var parameters: [NamedTensor] {
        exchangeTensors(from: flatParameters)
    }

    /// Converts a flat buffer laid out like the parameters (for example an optimizer slot) to exchange tensors.
    public func exchangeTensors(from flat: [Float], suffix: String = "") -> [NamedTensor] {
        slots.map { slot in
            var scalars = Array(flat[slot.offset..<(slot.offset + slot.count)])
            if slot.isTransposed {
                scalars = transpose(scalars, rows: slot.spec.shape[1], columns: slot.spec.shape[0])
            }
            return NamedTensor(name: slot.spec.name + suffix, tensor: Tensor(shape: slot.spec.shape, scalars: scalars))
        }
    }

    /// Builds a flat internal buffer from exchange tensors named `<parameter><suffix>`, in any order.
    ///
    /// - Throws: ``ConvNetError/missingParameter(name:)``, ``ConvNetError/unknownParameter(name:)`` or
    ///   ``ConvNetError/shapeMismatch(name:expected:found:)`` naming the tensor.
    public func flatBuffer(from tensors: [NamedTensor], suffix: String = "") throws -> [Float] {
        do {
            try Architecture.match(specs: slots.map(\.spec), tensors.map { ($0.name, $0.tensor.shape, $0.tensor.scalars.count) }, suffix: suffix)
        } catch {
            throw error.convNetError
        }
        let byName = Dictionary(tensors.map { ($0.name, $0.tensor) }, uniquingKeysWith: { first, _ in first })
        var flat = [Float](repeating: 0, count: flatParameters.count)
        for slot in slots {
            guard let tensor = byName[slot.spec.name + suffix] else { continue }
            let scalars = slot.isTransposed ? transpose(tensor.scalars, rows: slot.spec.shape[0], columns: slot.spec.shape[1]) : tensor.scalars
            flat.replaceSubrange(slot.offset..<(slot.offset + slot.count), with: scalars)
        }
        return flat
    }

    /// Replaces every parameter with exchange-layout tensors (all of them, each exactly once).
    ///
    /// - Throws: an error naming the first missing, unknown or mis-shaped tensor; the network is unchanged then.
    public mutating func load(parameters: [NamedTensor]) throws {
        flatParameters = try flatBuffer(from: parameters)
    }

    /// Builds a network from an architecture and its parameters in the exchange layout.
    public init(architecture: Architecture, parameters: [NamedTensor]) throws {
        try self.init(architecture: architecture)
        try load(parameters: parameters)
    }

    // MARK: Initialisation

    /// Initialises parameters the seed's way: kernels ~ N(0, 1) / (kernel height x width) for convolutions and
    /// N(0, 1) / fan-in for dense layers, biases zero. Draws are taken in parameter order, row-major in the
    /// exchange layout.
    public mutating func initialize(using rng: inout RandomGenerator) {
        var tensors: [NamedTensor] = []
        for slot in slots {
            var t = Tensor(zeros: slot.spec.shape)
            if !slot.spec.isBias {
                let divisor: Float
                switch architecture.layers[slot.spec.layerIndex].kind {
                case let .conv2d(spec): divisor = Float(spec.kernel[0] * spec.kernel[1])
                default: divisor = Float(slot.spec.fanIn)
                }
                for i in 0..<t.scalars.count { t.scalars[i] = Float(rng.nextGaussian()) / divisor }
            }
            tensors.append(NamedTensor(name: slot.spec.name, tensor: t))
        }
        // The names and shapes come from our own slots, so this cannot fail.
        if let flat = try? flatBuffer(from: tensors) { flatParameters = flat }
    }
}

/// Transposes a row-major `rows x columns` matrix.
func transpose(_ m: [Float], rows: Int, columns: Int) -> [Float] {
    var out = [Float](repeating: 0, count: m.count)
    for r in 0..<rows {
        for c in 0..<columns { out[c * rows + r] = m[r * columns + c] }
    }
    return out
}

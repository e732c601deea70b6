/// An architecture resolved for computation, without any parameter memory: the activation shapes, where each
/// parameter lives in the flat buffer, and one ``Operation`` per layer.
///
/// ``Network`` builds one and then allocates its flat buffer; the streaming forward pass
/// (``Network/predictStreaming(architecture:inputs:parameter:layerOutputs:)``) uses one alone, so that a model
/// of several hundred MB can be run while holding one layer's parameters at a time.
struct NetworkPlan: Sendable {
    /// The shape entering each layer, then the output shape.
    let shapes: [ActivationShape]
    let slots: [ParameterSlot]
    let operations: [Operation]
    /// The number of scalars of all parameters together.
    let parameterCount: Int

    /// Resolves an architecture.
    ///
    /// - Throws: ``ConvNetError/invalidArchitecture(layer:reason:)`` if the architecture does not validate or
    ///   holds more than ``Architecture/maximumElementCount`` parameters.
    init(architecture: Architecture) throws {
        shapes = try architecture.activationShapes()
        var slots: [ParameterSlot] = []
        var offset = 0
        for spec in try architecture.parameterSpecs() {
            let count = spec.shape.reduce(1, *)
            let isDenseKernel: Bool
            if case .dense = architecture.layers[spec.layerIndex].kind, !spec.isBias { isDenseKernel = true } else { isDenseKernel = false }
            slots.append(ParameterSlot(spec: spec, offset: offset, count: count, isTransposed: isDenseKernel))
            let (next, overflow) = offset.addingReportingOverflow(count)
            guard !overflow, next <= Architecture.maximumElementCount else {
                throw ConvNetError.invalidArchitecture(layer: nil, reason: "more than \(Architecture.maximumElementCount) parameters")
            }
            offset = next
        }
        self.slots = slots
        parameterCount = offset
        var operations: [Operation] = []
        for (index, layer) in architecture.layers.enumerated() {
            let inShape = shapes[index], outShape = shapes[index + 1]
            let weightOffset = slots.first { $0.spec.layerIndex == index && !$0.spec.isBias }?.offset
            let biasOffset = slots.first { $0.spec.layerIndex == index && $0.spec.isBias }?.offset
            func unresolved() -> ConvNetError { .invalidArchitecture(layer: layer.name, reason: "cannot be resolved against input \(inShape)") }
            switch layer.kind {
            case let .conv2d(spec):
                guard let gy = WindowGeometry.make(input: inShape.height, window: spec.kernel[0], stride: spec.stride[0], padding: spec.padding),
                      let gx = WindowGeometry.make(input: inShape.width, window: spec.kernel[1], stride: spec.stride[1], padding: spec.padding),
                      let weightOffset else { throw unresolved() }
                operations.append(.conv(ConvPlan(WindowPlan(input: inShape, output: outShape, y: gy, x: gx)), weights: weightOffset, bias: biasOffset))
            case .relu:
                operations.append(.relu(count: inShape.count))
            case let .maxPool2d(spec):
                guard let gy = WindowGeometry.make(input: inShape.height, window: spec.pool[0], stride: spec.stride[0], padding: spec.padding),
                      let gx = WindowGeometry.make(input: inShape.width, window: spec.pool[1], stride: spec.stride[1], padding: spec.padding)
                else { throw unresolved() }
                operations.append(.maxPool(WindowPlan(input: inShape, output: outShape, y: gy, x: gx)))
            case .flatten:
                operations.append(.flatten(count: inShape.count))
            case .dense:
                guard let weightOffset else { throw unresolved() }
                operations.append(.dense(inCount: inShape.count, outCount: outShape.count, weights: weightOffset, bias: biasOffset))
            case .softmax:
                operations.append(.softmax(count: inShape.count))
            }
        }
        self.operations = operations
    }
}

extension Operation {
    /// The flat-buffer offsets of the layer's kernel and bias (nil for layers without them).
    var parameterOffsets: (weights: Int?, bias: Int?) {
        switch self {
        case let .conv(_, weights, bias): (weights, bias)
        case let .dense(_, _, weights, bias): (weights, bias)
        case .relu, .maxPool, .flatten, .softmax: (nil, nil)
        }
    }
}

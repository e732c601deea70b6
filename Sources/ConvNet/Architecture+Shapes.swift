/// The geometry of one spatial window (convolution or pooling) along one axis.
public struct WindowGeometry: Sendable, Hashable {
    /// Input positions along the axis.
    public var input: Int
    /// The window's extent (kernel or pool size).
    public var window: Int
    /// Positions between window starts.
    public var stride: Int
    /// Output positions.
    public var output: Int
    /// Positions of padding before the first input element.
    public var padBefore: Int

    /// Computes the output extent and padding with Keras' rules.
    static func make(input: Int, window: Int, stride: Int, padding: Padding) -> WindowGeometry? {
        guard input > 0, window > 0, stride > 0 else { return nil }
        switch padding {
        case .valid:
            guard input >= window else { return nil }
            return WindowGeometry(input: input, window: window, stride: stride, output: (input - window) / stride + 1, padBefore: 0)
        case .same:
            let output = (input + stride - 1) / stride
            let total = max((output - 1) * stride + window - input, 0)
            return WindowGeometry(input: input, window: window, stride: stride, output: output, padBefore: total / 2)
        }
    }
}

/// The declared shape of one parameter in the exchange layout.
public struct ParameterSpec: Sendable, Hashable {
    /// `<layer>.<param>`, such as `conv2d.kernel`.
    public var name: String
    /// Exchange layout: conv kernel `[kh, kw, in, out]`, dense kernel `[in, out]`, bias `[n]`.
    public var shape: [Int]
    /// The number of inputs feeding one output (used by initialisers).
    public var fanIn: Int
    /// The index of the layer owning the parameter.
    public var layerIndex: Int
    /// True for a bias vector, false for a kernel.
    public var isBias: Bool
}

extension Architecture {
    /// The largest number of scalars any activation or parameter may hold (1 Gi elements).
    public static let maximumElementCount = 1 << 30

    /// The shape entering each layer followed by the network's output shape (`layers.count + 1` entries).
    ///
    /// - Throws: ``ConvNetError/invalidArchitecture(layer:reason:)`` naming the first layer that does not fit.
    public func activationShapes() throws -> [ActivationShape] {
        guard input.height > 0, input.width > 0, input.channels > 0 else {
            throw ConvNetError.invalidArchitecture(layer: nil, reason: "input shape \(input) must be positive")
        }
        guard checkedCount([input.height, input.width, input.channels]) != nil else {
            throw ConvNetError.invalidArchitecture(layer: nil, reason: "input shape \(input) is too large")
        }
        var shapes = [input]
        var current = input
        var names = Set<String>()
        for (index, layer) in layers.enumerated() {
            let label = "\(index) (\(layer.name))"
            func fail(_ reason: String) -> ConvNetError { .invalidArchitecture(layer: label, reason: reason) }
            guard !layer.name.isEmpty, !layer.name.contains(".") else { throw fail("a layer name must be non-empty and contain no '.'") }
            guard names.insert(layer.name).inserted else { throw fail("the name \(layer.name) is used twice") }
            switch layer.kind {
            case let .conv2d(spec):
                guard !current.isFlat else { throw fail("conv2d needs an image input, found flat \(current)") }
                guard spec.filters > 0 else { throw fail("filters must be positive, found \(spec.filters)") }
                guard spec.kernel.count == 2, spec.stride.count == 2 else { throw fail("kernel and stride need 2 values each") }
                guard let gy = WindowGeometry.make(input: current.height, window: spec.kernel[0], stride: spec.stride[0], padding: spec.padding),
                      let gx = WindowGeometry.make(input: current.width, window: spec.kernel[1], stride: spec.stride[1], padding: spec.padding)
                else { throw fail("kernel \(spec.kernel) with stride \(spec.stride) and \(spec.padding.rawValue) padding does not fit input \(current)") }
                current = ActivationShape(height: gy.output, width: gx.output, channels: spec.filters)
                guard checkedCount([spec.kernel[0], spec.kernel[1], shapes.last!.channels, spec.filters]) != nil else { throw fail("kernel is too large") }
            case .relu:
                break
            case let .maxPool2d(spec):
                guard !current.isFlat else { throw fail("maxpool2d needs an image input, found flat \(current)") }
                guard spec.pool.count == 2, spec.stride.count == 2 else { throw fail("pool and stride need 2 values each") }
                guard let gy = WindowGeometry.make(input: current.height, window: spec.pool[0], stride: spec.stride[0], padding: spec.padding),
                      let gx = WindowGeometry.make(input: current.width, window: spec.pool[1], stride: spec.stride[1], padding: spec.padding)
                else { throw fail("pool \(spec.pool) with stride \(spec.stride) does not fit input \(current)") }
                current = ActivationShape(height: gy.output, width: gx.output, channels: current.channels)
            case .flatten:
                current = ActivationShape(height: 1, width: 1, channels: current.count, isFlat: true)
            case let .dense(spec):
                guard current.isFlat || (current.height == 1 && current.width == 1) else {
                    throw fail("dense needs a flat input (add a flatten layer), found \(current)")
                }
                guard spec.units > 0 else { throw fail("units must be positive, found \(spec.units)") }
                guard checkedCount([current.count, spec.units]) != nil else { throw fail("kernel is too large") }
                current = ActivationShape(height: 1, width: 1, channels: spec.units, isFlat: true)
            case .softmax:
                guard index == layers.count - 1 else { throw fail("softmax must be the last layer") }
            }
            guard checkedCount([current.height, current.width, current.channels]) != nil else {
                throw fail("output \(current) is too large")
            }
            shapes.append(current)
        }
        return shapes
    }

    /// Checks that every layer fits the shape it receives.
    ///
    /// - Throws: ``ConvNetError/invalidArchitecture(layer:reason:)`` naming the first layer that does not fit.
    public func validate() throws {
        _ = try activationShapes()
    }

    /// The output shape of the network.
    public func outputShape() throws -> ActivationShape {
        try activationShapes().last!
    }

    /// The number of parameter values of each layer, in layer order (0 for layers without parameters).
    public func parameterCounts() throws -> [Int] {
        var counts = [Int](repeating: 0, count: layers.count)
        for spec in try parameterSpecs() { counts[spec.layerIndex] += spec.shape.reduce(1, *) }
        return counts
    }

    /// Every parameter in order, in the exchange layout.
    public func parameterSpecs() throws -> [ParameterSpec] {
        let shapes = try activationShapes()
        var specs: [ParameterSpec] = []
        for (index, layer) in layers.enumerated() {
            let inShape = shapes[index]
            switch layer.kind {
            case let .conv2d(spec):
                let fanIn = spec.kernel[0] * spec.kernel[1] * inShape.channels
                specs.append(ParameterSpec(name: "\(layer.name).kernel", shape: [spec.kernel[0], spec.kernel[1], inShape.channels, spec.filters], fanIn: fanIn, layerIndex: index, isBias: false))
                if spec.bias {
                    specs.append(ParameterSpec(name: "\(layer.name).bias", shape: [spec.filters], fanIn: fanIn, layerIndex: index, isBias: true))
                }
            case let .dense(spec):
                specs.append(ParameterSpec(name: "\(layer.name).kernel", shape: [inShape.count, spec.units], fanIn: inShape.count, layerIndex: index, isBias: false))
                if spec.bias {
                    specs.append(ParameterSpec(name: "\(layer.name).bias", shape: [spec.units], fanIn: inShape.count, layerIndex: index, isBias: true))
                }
            case .relu, .maxPool2d, .flatten, .softmax:
                break
            }
        }
        return specs
    }

    /// The total number of trainable scalars.
    public func parameterCount() throws -> Int {
        try parameterSpecs().reduce(0) { $0 + $1.shape.reduce(1, *) }
    }

    private func checkedCount(_ dims: [Int]) -> Int? {
        guard let count = Tensor.elementCount(dims), count <= Architecture.maximumElementCount else { return nil }
        return count
    }
}

import ConvNet
import ModelArchive

extension ONNXGraph {
    /// The name of the graph input: float32 `[N, H, W, C]` raw pixels.
    public static let inputName = "images"
    /// The name of the graph output: float32 `[N, K]` (or `[N, H, W, C]` for a network that ends unflattened).
    public static let outputName = "probabilities"

    /// Where an activation's axes are while the graph is built.
    private enum Layout {
        case nhwc, nchw, flat
    }

    /// Builds the graph of a document's network.
    public static func build(from document: ModelDocument) throws -> ONNXGraph {
        try build(from: StreamedModel(document: document))
    }

    /// Builds the graph of a model's network (`Schemas/onnx.md` section 2) from its architecture and
    /// tensor names and shapes alone: the initializers name the parameters whose values are fetched when the
    /// graph is written.
    ///
    /// `Mul`/`Add` preprocessing on NHWC pixels, `Transpose` to NCHW before the first convolution or pooling,
    /// `Conv` with explicit `pads` (Keras `same`: the smaller half before), `Relu`, `MaxPool` (floor), a
    /// `Transpose` back to NHWC before `Flatten` so that the flat order is H, W, C as in Keras and CNNKit, `Gemm`
    /// with the `[in, out]` kernel, `Softmax` on the last axis.
    ///
    /// - Throws: ``ONNXError/tensorMismatch(tensor:reason:)`` when a tensor is missing, unknown or mis-shaped;
    ///   ``ONNXError/unsupportedArchitecture(layer:reason:)`` when the architecture is invalid.
    public static func build(from model: StreamedModel) throws -> ONNXGraph {
        let architecture = model.architecture
        let shapes: [ActivationShape], specs: [ParameterSpec]
        do {
            shapes = try architecture.activationShapes()
            specs = try architecture.parameterSpecs()
        } catch {
            throw ONNXError.unsupportedArchitecture(layer: nil, reason: "\(error)")
        }
        var tensors: [String: [Int]] = [:]
        for t in model.parameters {
            guard tensors.updateValue(t.shape, forKey: t.name) == nil else { throw ONNXError.tensorMismatch(tensor: t.name, reason: "appears twice") }
        }
        for spec in specs {
            guard let shape = tensors[spec.name] else { throw ONNXError.tensorMismatch(tensor: spec.name, reason: "missing (expected shape \(spec.shape))") }
            guard shape == spec.shape else {
                throw ONNXError.tensorMismatch(tensor: spec.name, reason: "expected shape \(spec.shape), found \(shape)")
            }
        }
        if let extra = Set(tensors.keys).subtracting(specs.map(\.name)).sorted().first {
            throw ONNXError.tensorMismatch(tensor: extra, reason: "is not a parameter of the architecture")
        }

        var nodes: [Node] = []
        var initializers: [Initializer] = []
        var current = inputName
        var layout = Layout.nhwc
        func emit(_ op: String, _ name: String, _ inputs: [String], _ attributes: [Attribute] = []) {
            let output = "\(name):0"
            nodes.append(Node(opType: op, name: name, inputs: inputs, outputs: [output], attributes: attributes))
            current = output
        }
        func toNCHW(_ owner: String) {
            guard layout == .nhwc else { return }
            emit("Transpose", "\(owner)/to_nchw", [current], [.ints("perm", [0, 3, 1, 2])])
            layout = .nchw
        }
        func toFlat(_ owner: String) {
            if layout == .flat { return }
            if layout == .nchw { emit("Transpose", "\(owner)/to_nhwc", [current], [.ints("perm", [0, 2, 3, 1])]) }
            emit("Flatten", owner, [current], [.int("axis", 1)])
            layout = .flat
        }

        let pre = architecture.preprocessing
        initializers.append(Initializer(name: "preprocessing.scale", dims: [], values: .constant([pre.scale])))
        initializers.append(Initializer(name: "preprocessing.offset", dims: [], values: .constant([pre.offset])))
        emit("Mul", "preprocessing/scale", [current, "preprocessing.scale"])
        emit("Add", "preprocessing/offset", [current, "preprocessing.offset"])

        for (index, layer) in architecture.layers.enumerated() {
            let inShape = shapes[index]
            switch layer.kind {
            case let .conv2d(spec):
                toNCHW(layer.name)
                let kernelName = "\(layer.name).kernel"
                initializers.append(Initializer(name: kernelName, dims: [spec.filters, inShape.channels, spec.kernel[0], spec.kernel[1]],
                                                values: .convolutionKernel(kernelName, kh: spec.kernel[0], kw: spec.kernel[1], cin: inShape.channels, cout: spec.filters)))
                var inputs = [current, kernelName]
                if spec.bias {
                    let biasName = "\(layer.name).bias"
                    initializers.append(Initializer(name: biasName, dims: [spec.filters], values: .parameter(biasName)))
                    inputs.append(biasName)
                }
                let pads = padding(inShape, window: spec.kernel, stride: spec.stride, padding: spec.padding)
                emit("Conv", layer.name, inputs, [
                    .ints("dilations", [1, 1]), .int("group", 1), .ints("kernel_shape", spec.kernel), .ints("pads", pads),
                    .ints("strides", spec.stride),
                ])
            case .relu:
                emit("Relu", layer.name, [current])
            case let .maxPool2d(spec):
                toNCHW(layer.name)
                let pads = padding(inShape, window: spec.pool, stride: spec.stride, padding: spec.padding)
                emit("MaxPool", layer.name, [current], [
                    .int("ceil_mode", 0), .ints("kernel_shape", spec.pool), .ints("pads", pads), .ints("strides", spec.stride),
                ])
            case .flatten:
                toFlat(layer.name)
            case let .dense(spec):
                toFlat("\(layer.name)/flatten")
                let kernelName = "\(layer.name).kernel"
                initializers.append(Initializer(name: kernelName, dims: [inShape.count, spec.units], values: .parameter(kernelName)))
                var inputs = [current, kernelName]
                if spec.bias {
                    let biasName = "\(layer.name).bias"
                    initializers.append(Initializer(name: biasName, dims: [spec.units], values: .parameter(biasName)))
                    inputs.append(biasName)
                }
                emit("Gemm", layer.name, inputs, [.int("transA", 0), .int("transB", 0)])
            case .softmax:
                toFlat("\(layer.name)/flatten")
                emit("Softmax", layer.name, [current], [.int("axis", -1)])
            }
        }
        if layout == .nchw { emit("Transpose", "output/to_nhwc", [current], [.ints("perm", [0, 2, 3, 1])]) }
        // Name the last node's output after the graph output.
        if let last = nodes.indices.last { nodes[last].outputs = [outputName] }
        let final = shapes.last ?? architecture.input
        let outputDims: [Int?] = layout == .flat ? [nil, final.count] : [nil, final.height, final.width, final.channels]
        let input = architecture.input
        return ONNXGraph(name: "cnnkit", nodes: nodes, initializers: initializers,
                         input: Value(name: inputName, dims: [nil, input.height, input.width, input.channels]),
                         output: Value(name: outputName, dims: outputDims))
    }

    /// ONNX `pads` `[top, left, bottom, right]`: zero for `valid`; for `same`, Keras' total
    /// `max((ceil(in / stride) - 1) * stride + window - in, 0)` split with the smaller half before.
    static func padding(_ shape: ActivationShape, window: [Int], stride: [Int], padding: Padding) -> [Int] {
        guard padding == .same else { return [0, 0, 0, 0] }
        func split(_ input: Int, _ window: Int, _ stride: Int) -> (Int, Int) {
            let output = (input + stride - 1) / stride
            let total = max((output - 1) * stride + window - input, 0)
            return (total / 2, total - total / 2)
        }
        let (top, bottom) = split(shape.height, window[0], stride[0])
        let (left, right) = split(shape.width, window[1], stride[1])
        return [top, left, bottom, right]
    }
}

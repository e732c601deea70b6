import ConvNet
import ModelArchive

/// An ONNX graph read as a CNNKit architecture (`Schemas/onnx.md` section 4): the chain of supported nodes
/// walked from the graph input to its output, each parameter an initializer (or `Constant`) moved into
/// CNNKit's layout by a ``ParameterTransform`` when it is read.
struct ONNXImport {
    /// One parameter: CNNKit's name and shape, the tensor holding it and how its values move.
    struct Source {
        var descriptor: TensorDescriptor
        var tensor: Onnx_TensorProto
        var nchwShape: [Int]
        var transform: ParameterTransform
    }

    /// The operators CNNKit maps, as the refusal of any other lists them.
    static let supportedOperators = ["Add", "Constant", "Conv", "Div", "Flatten", "Gemm", "MatMul", "MaxPool", "Mul", "Relu", "Reshape",
                                     "Softmax", "Sub", "Transpose"]
    /// The metadata key recording what the import assumed about a graph CNNKit did not write.
    static let importKey = "onnx.import"

    var architecture: Architecture
    var sources: [Source]
    /// What was read rather than recorded (a graph from another producer): its input layout, preprocessing and
    /// whether a softmax was added; nil for CNNKit's own export.
    var notes: String?

    /// Where an activation's axes are while the graph is walked.
    private enum Layout {
        /// The graph input before any node told its layout: NCHW (PyTorch), unless a `Transpose [0, 3, 1, 2]`
        /// comes first (CNNKit's export).
        case input
        case nchw, nhwc, flat
    }

    /// Reads a decoded model's graph.
    ///
    /// - Throws: an ``ONNXError`` naming the node or tensor.
    static func read(_ model: Onnx_ModelProto, data: ONNXTensorData) throws -> ONNXImport {
        let file = data.file
        let graph = model.graph
        guard graph.node.count <= SafetyLimits.maxONNXNodes else {
            throw ONNXError.graph(file: file, node: nil, reason: "\(graph.node.count) nodes, more than the \(SafetyLimits.maxONNXNodes) CNNKit reads")
        }
        guard graph.initializer.count <= SafetyLimits.maxONNXInitializers else {
            throw ONNXError.graph(file: file, node: nil, reason: "\(graph.initializer.count) initializers, more than the \(SafetyLimits.maxONNXInitializers) CNNKit reads")
        }
        for opset in model.opsetImport where opset.domain == "" || opset.domain == "ai.onnx" {
            guard (7...25).contains(opset.version) else {
                throw ONNXError.graph(file: file, node: nil, reason: "default-domain opset \(opset.version); CNNKit reads opsets 7 to 25")
            }
        }
        var constants: [String: Onnx_TensorProto] = [:]
        for t in graph.initializer {
            guard constants.updateValue(t, forKey: t.name) == nil else { throw ONNXError.tensor(file: file, tensor: t.name, reason: "appears twice among the initializers") }
        }
        let inputs = graph.input.filter { constants[$0.name] == nil }
        guard inputs.count == 1, let input = inputs.first else {
            throw ONNXError.graph(file: file, node: nil, reason: "\(inputs.count) graph inputs besides the initializers; CNNKit reads graphs with one image input")
        }
        guard graph.output.count == 1, let output = graph.output.first else {
            throw ONNXError.graph(file: file, node: nil, reason: "\(graph.output.count) graph outputs; CNNKit reads graphs with one output")
        }
        let inputType = input.type.tensorType
        guard inputType.elemType == Onnx_TensorProto.DataType.float.rawValue else {
            throw ONNXError.graph(file: file, node: nil, reason: "input \(input.name) has elem_type \(ONNXTensorData.typeName(inputType.elemType)); CNNKit reads FLOAT images")
        }
        let dims = inputType.shape.dim.dropFirst().map { d -> Int in
            if case let .dimValue(v)? = d.value, v > 0, v <= 1 << 16 { return Int(v) }
            return -1
        }
        guard inputType.shape.dim.count == 4, dims.allSatisfy({ $0 > 0 && $0 <= 1 << 16 }) else {
            throw ONNXError.graph(file: file, node: nil, reason: "input \(input.name) has \(inputType.shape.dim.count) dims, sizes \(dims); CNNKit reads images [N, C, H, W] (or [N, H, W, C] from CNNKit) with fixed sizes")
        }
        let ours = model.metadataProps.contains { $0.key == ONNXExport.architectureKey }
        // A file that says CNNKit wrote it (its producer or a cnnkit.* entry) must hold CNNKit's record: one
        // that lost it (damage to the key) is refused rather than read as another producer's graph.
        if !ours, model.producerName == "cnnkit" || model.metadataProps.contains(where: { $0.key.hasPrefix("cnnkit.") }) {
            throw ONNXError.graph(file: file, node: nil, reason: "written by CNNKit (producer_name or a cnnkit.* metadata_props entry) but without metadata_props \(ONNXExport.architectureKey)")
        }

        var kinds: [LayerKind] = []
        var layerParameters: [[(String, Onnx_TensorProto, [Int], ParameterTransform)]] = []
        var layout: Layout = ours ? .nhwc : .input
        var inputShape = ours ? ActivationShape(height: dims[0], width: dims[1], channels: dims[2])
                              : ActivationShape(height: dims[1], width: dims[2], channels: dims[0])
        var scale: Float = 1, offset: Float = 0
        var preprocessingNodes: [String] = []
        var flattenedNCHW: ActivationShape?
        var matMulOpen = false
        var current = input.name

        func shapeNow() throws -> ActivationShape {
            let architecture = Architecture(input: inputShape, preprocessing: Preprocessing(scale: 1, offset: 0), kinds: kinds)
            do {
                return try architecture.activationShapes().last ?? inputShape
            } catch {
                throw ONNXError.graph(file: file, node: nil, reason: "the layers read so far do not fit the input: \(error)")
            }
        }
        func constant(_ name: String, node: String) throws -> Onnx_TensorProto {
            guard let t = constants[name] else {
                throw ONNXError.graph(file: file, node: node, reason: "input \(name) is not an initializer or Constant; CNNKit reads graphs whose weights are constants")
            }
            return t
        }
        func addLayer(_ kind: LayerKind, _ parameters: [(String, Onnx_TensorProto, [Int], ParameterTransform)] = []) {
            kinds.append(kind)
            layerParameters.append(parameters)
        }

        for node in graph.node {
            let name = node.name.isEmpty ? "#\(node.opType)" : node.name
            func refuse(_ reason: String) -> ONNXError { .graph(file: file, node: name, reason: reason) }
            guard node.domain.isEmpty || node.domain == "ai.onnx" else {
                throw ONNXError.unsupportedOperator(file: file, node: name, op: "\(node.domain).\(node.opType)", supported: supportedOperators)
            }
            guard supportedOperators.contains(node.opType) else {
                throw ONNXError.unsupportedOperator(file: file, node: name, op: node.opType, supported: supportedOperators)
            }
            let attributes = try Attributes(node, file: file, name: name)
            if node.opType == "Constant" {
                guard node.input.isEmpty, node.output.count == 1, let value = attributes.tensor("value") else {
                    throw refuse("a Constant needs one output and a tensor attribute 'value' (CNNKit reads no other form)")
                }
                var t = value
                t.name = node.output[0]
                constants[node.output[0]] = t
                continue
            }
            guard node.input.first == current, node.output.count >= 1 else {
                throw refuse("takes \(node.input.first ?? "nothing") where the chain is at \(current); CNNKit reads graphs that are one chain of nodes")
            }
            if node.opType != "Add" { matMulOpen = false }
            switch node.opType {
            case "Sub", "Div", "Mul", "Add":
                guard node.input.count == 2 else { throw refuse("\(node.opType) needs two inputs") }
                let c = try constant(node.input[1], node: name)
                if node.opType == "Add", matMulOpen, case let .dense(spec)? = kinds.last, !spec.bias {
                    let shape = try data.shape(c)
                    guard shape == [spec.units] || shape == [1, spec.units] else {
                        throw refuse("the bias after MatMul has dims \(shape), expected [\(spec.units)]")
                    }
                    kinds[kinds.count - 1] = .dense(DenseSpec(units: spec.units, bias: true))
                    layerParameters[layerParameters.count - 1].append(("bias", c, [spec.units], .identity))
                    matMulOpen = false
                    break
                }
                guard kinds.isEmpty else {
                    throw refuse("\(node.opType) after the first layer; CNNKit reads Sub, Div, Mul and Add with a scalar constant before the first layer (preprocessing), and Add as the bias after a MatMul")
                }
                let values = try data.floats(c)
                guard values.count == 1, let v = values.first, v.isFinite else {
                    throw refuse("\(node.opType) by \(c.name) with \(values.count) values; CNNKit's preprocessing is one scale and one offset for every pixel (per-channel constants are not read)")
                }
                switch node.opType {
                case "Sub": offset -= v
                case "Add": offset += v
                case "Mul":
                    scale *= v
                    offset *= v
                default:
                    guard v != 0 else { throw refuse("Div by zero") }
                    scale /= v
                    offset /= v
                }
                preprocessingNodes.append("\(node.opType) \(v)")
            case "Transpose":
                let perm = attributes.ints("perm") ?? []
                switch (layout, perm) {
                case (.input, [0, 3, 1, 2]):
                    inputShape = ActivationShape(height: dims[0], width: dims[1], channels: dims[2])
                    layout = .nchw
                case (.nhwc, [0, 3, 1, 2]): layout = .nchw
                case (.nchw, [0, 2, 3, 1]): layout = .nhwc
                default: throw refuse("Transpose perm \(perm) on a \(layout) activation; CNNKit reads the NHWC <-> NCHW transposes of its own export only")
                }
            case "Conv":
                if layout == .input { layout = .nchw }
                guard layout == .nchw else { throw refuse("Conv on a \(layout) activation; CNNKit reads Conv on NCHW images") }
                let shape = try shapeNow()
                guard node.input.count >= 2 else { throw refuse("Conv without weights") }
                let w = try constant(node.input[1], node: name)
                let wShape = try data.shape(w)
                guard wShape.count == 4, wShape[1] == shape.channels, wShape[0] > 0 else {
                    throw refuse("Conv weights \(w.name) have dims \(wShape); [out, \(shape.channels), kh, kw] expected for a \(shape.channels)-channel input")
                }
                guard (attributes.int("group") ?? 1) == 1 else { throw refuse("group \(attributes.int("group") ?? 1); CNNKit reads group 1") }
                guard (attributes.ints("dilations") ?? [1, 1]) == [1, 1] else { throw refuse("dilations \(attributes.ints("dilations") ?? []); CNNKit reads [1, 1]") }
                let kernel = [wShape[2], wShape[3]]
                guard (attributes.ints("kernel_shape") ?? kernel) == kernel else { throw refuse("kernel_shape \(attributes.ints("kernel_shape") ?? []) differs from the weights' \(kernel)") }
                let stride = attributes.ints("strides") ?? [1, 1]
                let padding = try Self.padding(attributes, shape: shape, window: kernel, stride: stride, refuse: refuse)
                var parameters: [(String, Onnx_TensorProto, [Int], ParameterTransform)] = [("kernel", w, wShape, .convKernel)]
                if node.input.count >= 3, !node.input[2].isEmpty {
                    let b = try constant(node.input[2], node: name)
                    guard try data.shape(b) == [wShape[0]] else { throw refuse("Conv bias \(b.name) has dims \(b.dims), expected [\(wShape[0])]") }
                    parameters.append(("bias", b, [wShape[0]], .identity))
                }
                addLayer(.conv2d(Conv2DSpec(filters: wShape[0], kernel: kernel, stride: stride, padding: padding, bias: parameters.count == 2)), parameters)
            case "Relu":
                addLayer(.relu)
            case "MaxPool":
                if layout == .input { layout = .nchw }
                guard layout == .nchw else { throw refuse("MaxPool on a \(layout) activation; CNNKit reads MaxPool on NCHW images") }
                guard node.output.count == 1 || node.output[1].isEmpty else { throw refuse("MaxPool with an Indices output") }
                guard let pool = attributes.ints("kernel_shape"), pool.count == 2, pool.allSatisfy({ $0 > 0 }) else { throw refuse("MaxPool without a 2-D kernel_shape") }
                guard (attributes.int("ceil_mode") ?? 0) == 0 else { throw refuse("ceil_mode 1; CNNKit pools with floor") }
                guard (attributes.ints("dilations") ?? [1, 1]) == [1, 1] else { throw refuse("dilations \(attributes.ints("dilations") ?? []); CNNKit reads [1, 1]") }
                guard (attributes.int("storage_order") ?? 0) == 0 else { throw refuse("storage_order 1") }
                let stride = attributes.ints("strides") ?? [1, 1]
                let padding = try Self.padding(attributes, shape: try shapeNow(), window: pool, stride: stride, refuse: refuse)
                addLayer(.maxPool2d(MaxPool2DSpec(pool: pool, stride: stride, padding: padding)))
            case "Flatten", "Reshape":
                if node.opType == "Flatten" {
                    guard (attributes.int("axis") ?? 1) == 1 else { throw refuse("Flatten axis \(attributes.int("axis") ?? 1); CNNKit reads axis 1") }
                } else {
                    guard node.input.count == 2 else { throw refuse("Reshape needs a shape input") }
                    let target = try data.int64s(try constant(node.input[1], node: name))
                    let count = try shapeNow().count
                    guard target.count == 2, [-1, 0, 1].contains(target[0]) || target[0] > 0, target[1] == -1 || target[1] == Int64(count) else {
                        throw refuse("Reshape to \(target); CNNKit reads a Reshape to [N, \(count)] (a flatten) only")
                    }
                }
                if layout == .input { layout = .nchw }
                if layout == .flat { break }
                let shape = try shapeNow()
                flattenedNCHW = layout == .nchw && shape.height * shape.width > 1 && shape.channels > 1 ? shape : nil
                addLayer(.flatten)
                layout = .flat
            case "Gemm", "MatMul":
                guard layout == .flat else { throw refuse("\(node.opType) on a \(layout) activation; CNNKit reads it after a Flatten or Reshape") }
                guard node.input.count >= 2 else { throw refuse("\(node.opType) needs two inputs") }
                let inCount = try shapeNow().count
                let w = try constant(node.input[1], node: name)
                let wShape = try data.shape(w)
                let transB = node.opType == "Gemm" ? (attributes.int("transB") ?? 0) : 0
                guard transB == 0 || transB == 1 else { throw refuse("Gemm transB \(transB)") }
                if node.opType == "Gemm" {
                    guard (attributes.int("transA") ?? 0) == 0, (attributes.float("alpha") ?? 1) == 1, (attributes.float("beta") ?? 1) == 1 else {
                        throw refuse("Gemm with transA, alpha or beta other than 0, 1, 1")
                    }
                }
                let units = transB == 1 ? wShape.first ?? 0 : wShape.last ?? 0
                let expected = transB == 1 ? [units, inCount] : [inCount, units]
                guard wShape.count == 2, units > 0, wShape == expected else {
                    throw refuse("\(node.opType) weights \(w.name) have dims \(wShape); \(transB == 1 ? "[out, \(inCount)]" : "[\(inCount), out]") expected for \(inCount) inputs")
                }
                let transform: ParameterTransform = transB == 1 ? .linearKernel(flattened: flattenedNCHW) : .denseKernel(flattened: flattenedNCHW)
                flattenedNCHW = nil
                var parameters: [(String, Onnx_TensorProto, [Int], ParameterTransform)] = [("kernel", w, wShape, transform)]
                if node.opType == "Gemm", node.input.count >= 3, !node.input[2].isEmpty {
                    let c = try constant(node.input[2], node: name)
                    let cShape = try data.shape(c)
                    guard cShape == [units] || cShape == [1, units] else { throw refuse("Gemm bias \(c.name) has dims \(cShape), expected [\(units)]") }
                    parameters.append(("bias", c, [units], .identity))
                }
                addLayer(.dense(DenseSpec(units: units, bias: parameters.count == 2)), parameters)
                matMulOpen = node.opType == "MatMul"
            case "Softmax":
                guard layout == .flat else { throw refuse("Softmax on a \(layout) activation; CNNKit reads it on flat outputs") }
                let axis = attributes.int("axis") ?? -1
                guard axis == -1 || axis == 1 else { throw refuse("Softmax axis \(axis); CNNKit reads the last axis") }
                addLayer(.softmax)
            default:
                throw ONNXError.unsupportedOperator(file: file, node: name, op: node.opType, supported: supportedOperators)
            }
            current = node.output[0]
        }
        guard current == output.name else {
            throw ONNXError.graph(file: file, node: nil, reason: "the chain of nodes ends at \(current), not at the graph output \(output.name)")
        }
        guard layout == .flat || layout == .nhwc || kinds.isEmpty else {
            throw ONNXError.graph(file: file, node: nil, reason: "the graph ends on an NCHW image; CNNKit reads graphs that end flat (classifiers) or, from CNNKit, in NHWC")
        }
        var notes: [String] = []
        if !ours {
            notes.append("input [N, \(inputShape.channels), \(inputShape.height), \(inputShape.width)] (NCHW) read as \(inputShape.height)x\(inputShape.width)x\(inputShape.channels) images")
            notes.append(preprocessingNodes.isEmpty ? "no preprocessing in the graph (pixels as stored, scale 1, offset 0)"
                         : "preprocessing x * \(scale) + \(offset) from the graph's \(preprocessingNodes.joined(separator: ", "))")
            if case .dense? = kinds.last {
                addLayer(.softmax)
                notes.append("softmax added after the last Gemm/MatMul (the graph ends in logits)")
            } else if case .softmax? = kinds.last {
                notes.append("the graph's own Softmax is the output")
            }
        }
        let architecture = Architecture(input: inputShape, preprocessing: Preprocessing(scale: scale, offset: offset), kinds: kinds)
        do { try architecture.validate() } catch {
            throw ONNXError.graph(file: file, node: nil, reason: "the graph's layers do not make a valid CNNKit network: \(error)")
        }
        var sources: [Source] = []
        for (layer, parameters) in zip(architecture.layers, layerParameters) {
            for (suffix, tensor, shape, transform) in parameters {
                sources.append(Source(descriptor: TensorDescriptor(name: "\(layer.name).\(suffix)", shape: []), tensor: tensor, nchwShape: shape, transform: transform))
            }
        }
        // CNNKit's shapes, in the architecture's parameter order.
        let specs: [ParameterSpec]
        do { specs = try architecture.parameterSpecs() } catch {
            throw ONNXError.graph(file: file, node: nil, reason: "\(error)")
        }
        guard specs.map(\.name) == sources.map(\.descriptor.name) else {
            throw ONNXError.graph(file: file, node: nil, reason: "the parameters read (\(sources.map(\.descriptor.name))) are not the architecture's (\(specs.map(\.name)))")
        }
        for (i, spec) in specs.enumerated() { sources[i].descriptor.shape = spec.shape }
        var result = ONNXImport(architecture: architecture, sources: sources, notes: notes.isEmpty ? nil : notes.joined(separator: "; "))
        if ours { try result.adoptRecordedArchitecture(model, file: file) }
        return result
    }

    /// CNNKit's own export: the architecture recorded in `metadata_props` (its layer names, and the layers an
    /// export leaves implicit, such as a flatten before a dense) replaces the one read from the graph, after
    /// checking that both have the same input, preprocessing, parameter shapes and output.
    private mutating func adoptRecordedArchitecture(_ model: Onnx_ModelProto, file: String) throws {
        guard let json = model.metadataProps.first(where: { $0.key == ONNXExport.architectureKey })?.value else { return }
        let recorded: Architecture
        do {
            recorded = try Architecture.decode(json: Array(json.utf8), strict: true)
        } catch {
            throw ONNXError.graph(file: file, node: nil, reason: "metadata_props \(ONNXExport.architectureKey): \(error)")
        }
        let specs: [ParameterSpec], outputs: ActivationShape?, readOutput: ActivationShape?
        do {
            specs = try recorded.parameterSpecs()
            outputs = try recorded.activationShapes().last
            readOutput = try architecture.activationShapes().last
        } catch {
            throw ONNXError.graph(file: file, node: nil, reason: "metadata_props \(ONNXExport.architectureKey): \(error)")
        }
        guard recorded.input == architecture.input, recorded.preprocessing == architecture.preprocessing,
              specs.map(\.shape) == sources.map(\.descriptor.shape), outputs?.count == readOutput?.count else {
            throw ONNXError.graph(file: file, node: nil, reason: "the architecture in metadata_props \(ONNXExport.architectureKey) does not describe the graph (input, preprocessing, parameter shapes or output differ)")
        }
        architecture = recorded
        for (i, spec) in specs.enumerated() { sources[i].descriptor = TensorDescriptor(name: spec.name, shape: spec.shape) }
    }

    /// A `Conv` or `MaxPool` node's padding as CNNKit's: `valid` for zero `pads`, `same` for the pads of
    /// `ONNXGraph/padding(_:window:stride:padding:)` (`auto_pad` `SAME_UPPER` too); anything else refused.
    private static func padding(_ attributes: Attributes, shape: ActivationShape, window: [Int], stride: [Int],
                                refuse: (String) -> ONNXError) throws -> Padding {
        guard window.count == 2, stride.count == 2, stride.allSatisfy({ $0 > 0 }) else { throw refuse("strides \(stride) and window \(window) must be 2-D and positive") }
        switch attributes.string("auto_pad") ?? "NOTSET" {
        case "NOTSET", "": break
        case "VALID": return .valid
        case "SAME_UPPER": return .same
        case let other: throw refuse("auto_pad \(other); CNNKit reads NOTSET, VALID and SAME_UPPER")
        }
        let pads = attributes.ints("pads") ?? [0, 0, 0, 0]
        if pads == [0, 0, 0, 0] { return .valid }
        if pads == ONNXGraph.padding(shape, window: window, stride: stride, padding: .same) { return .same }
        throw refuse("pads \(pads) are neither valid (zeros) nor same (\(ONNXGraph.padding(shape, window: window, stride: stride, padding: .same)))")
    }
}

/// A node's attributes by name, each checked for its type when asked.
struct Attributes {
    private var byName: [String: Onnx_AttributeProto] = [:]

    init(_ node: Onnx_NodeProto, file: String, name: String) throws {
        for a in node.attribute {
            guard byName.updateValue(a, forKey: a.name) == nil else {
                throw ONNXError.graph(file: file, node: name, reason: "attribute \(a.name) appears twice")
            }
        }
    }

    /// nil when absent; -1 when present but not a small integer (which no check accepts).
    func int(_ name: String) -> Int? {
        guard let a = byName[name] else { return nil }
        guard a.hasI, a.i >= -1_000_000, a.i <= 1_000_000 else { return -1 }
        return Int(a.i)
    }

    /// nil when absent; empty when present but not a short list of small integers (which no check accepts).
    func ints(_ name: String) -> [Int]? {
        guard let a = byName[name] else { return nil }
        guard a.ints.count <= 16, a.ints.allSatisfy({ $0 >= -1_000_000 && $0 <= 1_000_000 }) else { return [] }
        return a.ints.map { Int($0) }
    }

    func float(_ name: String) -> Float? {
        guard let a = byName[name], a.hasF else { return nil }
        return a.f
    }

    func string(_ name: String) -> String? {
        guard let a = byName[name], a.hasS else { return nil }
        return String(decoding: a.s, as: UTF8.self)
    }

    func tensor(_ name: String) -> Onnx_TensorProto? {
        guard let a = byName[name], a.hasT else { return nil }
        return a.t
    }
}

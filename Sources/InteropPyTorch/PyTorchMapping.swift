import ConvNet
import ModelArchive

/// One parameter of an architecture and the state dict entry that holds it.
public struct MappedParameter: Sendable, Hashable {
    /// CNNKit's name and shape (`conv2d.kernel`, `[3, 3, 1, 8]`).
    public var descriptor: TensorDescriptor
    /// The state dict key (`0.weight`).
    public var key: String
    public var torchShape: [Int]
    public var transform: ParameterTransform
}

/// A state dict mapped onto an architecture: given (`--architecture`) or inferred from `nn.Sequential` keys.
public struct PyTorchMapping: Sendable {
    public var architecture: Architecture
    public var parameters: [MappedParameter]
    /// What was inferred and assumed, when the architecture was inferred (recorded in the metadata).
    public var inferred: String?

    /// The metadata key recording an inferred architecture.
    public static let inferredKey = "pytorch.inferred_architecture"

    /// Each parameter of `architecture` in its order, with PyTorch's shape and the transform, keyed as the
    /// `nn.Sequential` CNNKit writes names it: `<layer index>.weight` and `<layer index>.bias`.
    public static func sequentialLayout(of architecture: Architecture) throws -> [MappedParameter] {
        let shapes = try architecture.activationShapes()
        var flattened: ActivationShape?
        var out: [MappedParameter] = []
        for (index, layer) in architecture.layers.enumerated() {
            let input = shapes[index]
            switch layer.kind {
            case let .conv2d(spec):
                out.append(MappedParameter(descriptor: TensorDescriptor(name: "\(layer.name).kernel", shape: [spec.kernel[0], spec.kernel[1], input.channels, spec.filters]),
                                           key: "\(index).weight", torchShape: [spec.filters, input.channels, spec.kernel[0], spec.kernel[1]], transform: .convKernel))
                if spec.bias {
                    out.append(MappedParameter(descriptor: TensorDescriptor(name: "\(layer.name).bias", shape: [spec.filters]),
                                               key: "\(index).bias", torchShape: [spec.filters], transform: .identity))
                }
            case let .dense(spec):
                let perm = flattened.flatMap { $0.height * $0.width > 1 && $0.channels > 1 ? $0 : nil }
                flattened = nil
                out.append(MappedParameter(descriptor: TensorDescriptor(name: "\(layer.name).kernel", shape: [input.count, spec.units]),
                                           key: "\(index).weight", torchShape: [spec.units, input.count], transform: .linearKernel(flattened: perm)))
                if spec.bias {
                    out.append(MappedParameter(descriptor: TensorDescriptor(name: "\(layer.name).bias", shape: [spec.units]),
                                               key: "\(index).bias", torchShape: [spec.units], transform: .identity))
                }
            case .flatten:
                flattened = input
            case .relu, .maxPool2d, .softmax:
                break
            }
        }
        return out
    }

    /// The `nn.Sequential` module whose `state_dict()` has these keys (for messages and documentation).
    public static func sequentialDefinition(of architecture: Architecture) throws -> String {
        let shapes = try architecture.activationShapes()
        let modules = architecture.layers.enumerated().map { index, layer -> String in
            switch layer.kind {
            case let .conv2d(s):
                "nn.Conv2d(\(shapes[index].channels), \(s.filters), kernel_size=(\(s.kernel[0]), \(s.kernel[1])), stride=(\(s.stride[0]), \(s.stride[1])), padding=\(s.padding == .same ? "'same'" : "0"), bias=\(s.bias ? "True" : "False"))"
            case .relu: "nn.ReLU()"
            case let .maxPool2d(s): "nn.MaxPool2d(kernel_size=(\(s.pool[0]), \(s.pool[1])), stride=(\(s.stride[0]), \(s.stride[1])))"
            case .flatten: "nn.Flatten()"
            case let .dense(s): "nn.Linear(\(shapes[index].count), \(s.units), bias=\(s.bias ? "True" : "False"))"
            case .softmax: "nn.Softmax(dim=1)"
            }
        }
        return "nn.Sequential(" + modules.joined(separator: ", ") + ")"
    }

    /// Maps a state dict (each entry's key as the descriptor's name, its shape in PyTorch's layout) onto `architecture` (its parameter layers, in order, take the state dict's modules in
    /// the order their keys first appear; any prefix is accepted), or infers one (``infer(_:file:)``).
    ///
    /// - Throws: ``PyTorchError/tensor(file:key:reason:)`` naming the key and both shapes, or
    ///   ``PyTorchError/mapping(file:reason:)``.
    public static func map(_ entries: [TensorDescriptor], architecture given: Architecture?, file: String) throws -> PyTorchMapping {
        guard let architecture = given else { return try infer(entries, file: file) }
        do { try architecture.validate() } catch { throw PyTorchError.mapping(file: file, reason: "the given architecture: \(error)") }
        let groups = try modules(entries, file: file)
        let layout = try sequentialLayout(of: architecture)
        let layers = Dictionary(grouping: layout, by: { $0.key.split(separator: ".").first.map(String.init) ?? "" })
        let order = layout.map { $0.key.split(separator: ".").first.map(String.init) ?? "" }.reduce(into: [String]()) { if $0.last != $1 { $0.append($1) } }
        guard groups.count == order.count else {
            throw PyTorchError.mapping(file: file, reason: "the state dict has \(groups.count) modules with parameters (\(groups.map(\.prefix).joined(separator: ", "))), the architecture \(order.count) layers with parameters")
        }
        var mapped: [MappedParameter] = []
        for (group, layerKey) in zip(groups, order) {
            for var p in layers[layerKey] ?? [] {
                let suffix = p.key.hasSuffix(".bias") ? "bias" : "weight"
                let layerName = p.descriptor.name.split(separator: ".").first.map(String.init) ?? ""
                guard let entry = group.parameters[suffix] else {
                    throw PyTorchError.mapping(file: file, reason: "layer \(layerName) needs \(group.prefix).\(suffix) \(p.torchShape), which the state dict does not hold")
                }
                guard entry.shape == p.torchShape else {
                    throw PyTorchError.tensor(file: file, key: entry.name, reason: "shape \(entry.shape), but layer \(layerName) needs \(p.torchShape) (CNNKit's \(p.descriptor.name) \(p.descriptor.shape))")
                }
                p.key = entry.name
                mapped.append(p)
            }
            for (suffix, entry) in group.parameters where !(layers[layerKey] ?? []).contains(where: { $0.key.hasSuffix("." + suffix) }) {
                throw PyTorchError.tensor(file: file, key: entry.name, reason: "the architecture's layer for module \(group.prefix) has no \(suffix)")
            }
        }
        return PyTorchMapping(architecture: architecture, parameters: mapped, inferred: nil)
    }

    /// A module's parameters: `weight` and `bias`.
    struct Module {
        var prefix: String
        var parameters: [String: TensorDescriptor] = [:]
    }

    /// The state dict's modules in the order their keys first appear; every key is `<prefix>.weight` or
    /// `<prefix>.bias`.
    static func modules(_ entries: [TensorDescriptor], file: String) throws -> [Module] {
        var modules: [Module] = []
        var at: [String: Int] = [:]
        for entry in entries {
            guard let dot = entry.name.lastIndex(of: "."), ["weight", "bias"].contains(entry.name[entry.name.index(after: dot)...]) else {
                throw PyTorchError.tensor(file: file, key: entry.name, reason: "is not a weight or bias; CNNKit maps Conv2d and Linear modules only (no BatchNorm, Dropout-free nn.Sequential of Conv2d, ReLU, MaxPool2d, Flatten, Linear)")
            }
            let prefix = String(entry.name[..<dot]), suffix = String(entry.name[entry.name.index(after: dot)...])
            if at[prefix] == nil {
                at[prefix] = modules.count
                modules.append(Module(prefix: prefix))
            }
            modules[at[prefix]!].parameters[suffix] = entry
        }
        for m in modules where m.parameters["weight"] == nil {
            throw PyTorchError.tensor(file: file, key: "\(m.prefix).bias", reason: "has no \(m.prefix).weight beside it")
        }
        return modules
    }

    // MARK: - Inference

    /// A layer without parameters, as inference names it.
    enum Filler: Hashable {
        case relu, pool, flatten
        var torchName: String {
            switch self {
            case .relu: "ReLU"
            case .pool: "MaxPool2d(2)"
            case .flatten: "Flatten"
            }
        }
    }

    /// Infers the architecture of an `nn.Sequential` state dict (`Schemas/pytorch.md` section 3.2): keys
    /// `<index>.weight` / `<index>.bias`, a 4-D weight a `Conv2d` (stride 1, padding 0), a 2-D one a `Linear`.
    /// The parameterless indices between them are filled with the readings the family allows (between
    /// convolutions `ReLU` or `MaxPool2d(2)` for one index, `ReLU, MaxPool2d(2)` for two; before the first
    /// Linear the same followed by `Flatten`; between Linears `ReLU`). The input is square, its size computed
    /// back from the first Linear's `in_features` with every 2x2 pool halving exactly. Exactly one reading must
    /// fit; otherwise the error names what is ambiguous and asks for `--architecture`.
    public static func infer(_ entries: [TensorDescriptor], file: String) throws -> PyTorchMapping {
        let ask = "give the architecture with --architecture FILE.json"
        func refuse(_ reason: String) -> PyTorchError { .mapping(file: file, reason: "cannot infer the architecture: \(reason); \(ask)") }
        let groups = try modules(entries, file: file)
        guard !groups.isEmpty else { throw refuse("the state dict holds no tensors") }
        var indexed: [(index: Int, module: Module, conv: Bool)] = []
        for g in groups {
            guard let index = Int(g.prefix), index >= 0, String(index) == g.prefix else {
                throw refuse("key \(g.prefix).weight is not nn.Sequential-style (INDEX.weight)")
            }
            if let previous = indexed.last, index <= previous.index {
                throw refuse("key \(g.prefix).weight comes after \(previous.index).weight; nn.Sequential keys ascend")
            }
            let weight = g.parameters["weight"]!
            guard weight.shape.count == 4 || weight.shape.count == 2 else {
                throw PyTorchError.tensor(file: file, key: weight.name, reason: "shape \(weight.shape) is neither a Conv2d weight [out, in, kh, kw] nor a Linear weight [out, in]; \(ask)")
            }
            indexed.append((index, g, weight.shape.count == 4))
        }
        guard indexed[0].index == 0 else { throw refuse("indices 0 to \(indexed[0].index - 1) come before \(indexed[0].index).weight and hold no parameters, so what they are is unknown") }
        guard indexed[0].conv else { throw refuse("the first module (0.weight \(indexed[0].module.parameters["weight"]!.shape)) is a Linear, so the input image's height, width and channels are unknown") }

        // The readings of each run of parameterless indices.
        var options: [[[Filler]]] = []
        var runs: [(after: Int, before: Int)] = []
        var seenLinear = false
        for (a, b) in zip(indexed, indexed.dropFirst()) {
            let gap = b.index - a.index - 1
            let between = "between \(a.index).weight and \(b.index).weight"
            switch (a.conv, b.conv) {
            case (true, true):
                let choices: [[Filler]]? = [0: [[]], 1: [[.relu], [.pool]], 2: [[.relu, .pool]]][gap]
                guard let choices else { throw refuse("\(gap) parameterless layers \(between) (the family has at most ReLU, MaxPool2d(2))") }
                options.append(choices)
            case (true, false):
                let choices: [[Filler]]? = [1: [[.flatten]], 2: [[.relu, .flatten], [.pool, .flatten]], 3: [[.relu, .pool, .flatten]]][gap]
                guard let choices else { throw refuse("\(gap) parameterless layers \(between) (the family has at most ReLU, MaxPool2d(2), Flatten)") }
                options.append(choices)
                seenLinear = true
            case (false, false):
                let choices: [[Filler]]? = [0: [[]], 1: [[.relu]]][gap]
                guard let choices else { throw refuse("\(gap) parameterless layers \(between) (the family has at most a ReLU between Linears; Dropout and others are not inferred)") }
                options.append(choices)
            case (false, true):
                throw refuse("a Conv2d (\(b.index).weight) follows a Linear (\(a.index).weight)")
            }
            runs.append((a.index, b.index))
        }
        guard seenLinear else { throw refuse("no Linear follows the convolutions, so the input size is unknown") }

        var readings: [[Int]] = [[]]
        for o in options {
            readings = readings.flatMap { r in o.indices.map { r + [$0] } }
            guard readings.count <= 4096 else { throw refuse("too many readings of the parameterless layers") }
        }
        var fits: [(choice: [Int], architecture: Architecture, input: ActivationShape)] = []
        var firstFailure: String?
        for choice in readings {
            do {
                let (architecture, input) = try build(indexed.map { ($0.index, $0.module, $0.conv) }, fillers: zip(options, choice).map { $0[$1] })
                _ = try map(entries, architecture: architecture, file: file)
                fits.append((choice, architecture, input))
            } catch let reason as InferenceFailure {
                firstFailure = firstFailure ?? reason.reason
            } catch {
                firstFailure = firstFailure ?? "\(error)"
            }
        }
        guard let found = fits.first else { throw refuse(firstFailure ?? "no reading fits") }
        if fits.count > 1 {
            var ambiguous: [String] = []
            for (r, run) in runs.enumerated() where Set(fits.map { $0.choice[r] }).count > 1 {
                let readings = Set(fits.map { $0.choice[r] }).sorted().map { options[r][$0].map(\.torchName).joined(separator: ", ") }
                let indices = run.before - run.after == 2 ? "index \(run.after + 1)" : "indices \(run.after + 1) to \(run.before - 1)"
                ambiguous.append("\(indices) (between \(run.after).weight and \(run.before).weight) can be \(readings.joined(separator: " or "))")
            }
            let inputs = fits.map { "\($0.input.height)x\($0.input.width)x\($0.input.channels)" }
            throw refuse("the state dict does not say what its parameterless layers are: \(ambiguous.joined(separator: "; ")) (inputs \(inputs.joined(separator: " or ")) fit)")
        }
        var mapping = try map(entries, architecture: found.architecture, file: file)
        let definition = try sequentialDefinition(of: found.architecture).replacingOccurrences(of: ", nn.Softmax(dim=1))", with: ")")
        mapping.inferred = "\(definition); input \(found.input.height)x\(found.input.width)x\(found.input.channels) computed from the first Linear's in_features "
            + "(square input, 2x2 pools halving exactly); Conv2d stride 1 and padding 0 assumed; softmax added after the last Linear (the source ends in logits); "
            + "no preprocessing (pixels as stored, scale 1, offset 0)"
        return mapping
    }

    struct InferenceFailure: Error { var reason: String }

    /// The architecture of one reading: the modules, the fillers of each run, the input computed backwards from
    /// the first Linear.
    static func build(_ modules: [(index: Int, module: Module, conv: Bool)], fillers: [[Filler]]) throws -> (Architecture, ActivationShape) {
        var kinds: [LayerKind] = []
        var torchLayers: [(kind: LayerKind, conv: (kh: Int, kw: Int)?)] = []
        for (i, m) in modules.enumerated() {
            let w = m.module.parameters["weight"]!.shape
            let bias = m.module.parameters["bias"] != nil
            if m.conv {
                let k = LayerKind.conv2d(Conv2DSpec(filters: w[0], kernel: [w[2], w[3]], stride: [1, 1], padding: .valid, bias: bias))
                torchLayers.append((k, (w[2], w[3])))
            } else {
                torchLayers.append((.dense(DenseSpec(units: w[0], bias: bias)), nil))
            }
            if i < fillers.count {
                for f in fillers[i] {
                    switch f {
                    case .relu: torchLayers.append((.relu, nil))
                    case .pool: torchLayers.append((.maxPool2d(MaxPool2DSpec()), nil))
                    case .flatten: torchLayers.append((.flatten, nil))
                    }
                }
            }
        }
        kinds = torchLayers.map(\.kind) + [.softmax]
        // Back from the first Linear: in_features = channels x s x s.
        guard let firstLinear = modules.first(where: { !$0.conv }), let lastConv = modules.last(where: { $0.conv }) else {
            throw InferenceFailure(reason: "no Linear follows the convolutions")
        }
        let features = firstLinear.module.parameters["weight"]!.shape[1], channels = lastConv.module.parameters["weight"]!.shape[0]
        guard channels > 0, features % channels == 0 else {
            throw InferenceFailure(reason: "\(firstLinear.index).weight has in_features \(features), not a multiple of \(lastConv.index).weight's \(channels) output channels")
        }
        let area = features / channels
        let side = Int(Double(area).squareRoot().rounded())
        guard side > 0, side * side == area else {
            throw InferenceFailure(reason: "\(firstLinear.index).weight has in_features \(features) = \(channels) channels x \(area), not a square map")
        }
        var h = side, w = side
        let flattenAt = torchLayers.firstIndex { if case .flatten = $0.kind { return true } else { return false } } ?? torchLayers.count
        for layer in torchLayers[..<flattenAt].reversed() {
            if let k = layer.conv {
                h += k.kh - 1
                w += k.kw - 1
            } else if case .maxPool2d = layer.kind {
                h *= 2
                w *= 2
            }
        }
        let input = ActivationShape(height: h, width: w, channels: modules[0].module.parameters["weight"]!.shape[1])
        let architecture = Architecture(input: input, preprocessing: Preprocessing(scale: 1, offset: 0), kinds: kinds)
        do { try architecture.validate() } catch { throw InferenceFailure(reason: "\(error)") }
        return (architecture, input)
    }
}

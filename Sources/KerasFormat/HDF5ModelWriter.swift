import ConvNet
import HDF5Format
import ModelArchive

/// Writes a model as a Keras 3 legacy full-model file plus the `/cnnkit` group (`Schemas/hdf5-layout.md`).
///
/// The model is a ``StreamedModel``: each dataset's tensor is fetched just before it is written and released
/// right after, so a document held in memory and a model streamed from another file give the same bytes.
struct HDF5ModelWriter {
    let model: StreamedModel
    /// The destination the user named (for messages).
    let file: String
    let options: HDF5WriteOptions

    /// A writer for a document held in memory.
    init(document: ModelDocument, file: String, options: HDF5WriteOptions) {
        self.init(model: StreamedModel(document: document), file: file, options: options)
    }

    init(model: StreamedModel, file: String, options: HDF5WriteOptions) {
        self.model = model
        self.file = file
        self.options = options
    }

    /// Checks that the document fits the layout, before any file is created.
    func validate() throws {
        func fail(_ reason: String) -> HDF5Error { .cannotWrite(file: file, reason: reason) }
        let architecture = model.architecture
        do {
            try architecture.validate()
        } catch {
            throw fail("\(error)")
        }
        for layer in architecture.layers where layer.name.contains("/") || layer.name.hasPrefix(".") {
            throw fail("layer name '\(layer.name)' cannot be an HDF5 group name (no '/', no leading '.')")
        }
        guard architecture.preprocessing.scale.isFinite, architecture.preprocessing.offset.isFinite else {
            throw fail("preprocessing scale \(architecture.preprocessing.scale) and offset \(architecture.preprocessing.offset) must be finite for Keras' Rescaling")
        }
        let specs = try architecture.parameterSpecs()
        try checkTensors(model.parameters, against: specs.map { ($0.name, $0.shape) }, what: "parameter")
        if let state = model.trainingState {
            var expected: [(String, [Int])] = []
            for spec in specs {
                for slot in state.optimizer.slotNames { expected.append((TrainingState.slotName(parameter: spec.name, slot: slot), spec.shape)) }
            }
            if !(model.slots.isEmpty && !expected.isEmpty) {
                try checkTensors(model.slots, against: expected, what: "optimizer slot")
            }
            guard state.step >= 0, state.step <= Int(Int32.max) else { throw fail("step \(state.step) does not fit Keras' int32 iteration") }
        }
        if let probes = model.probes {
            let input = architecture.input
            guard probes.inputs.shape.count == 4, Array(probes.inputs.shape.dropFirst()) == [input.height, input.width, input.channels],
                  probes.inputs.scalars.count == Tensor.elementCount(probes.inputs.shape),
                  probes.outputs.shape.count == 2, probes.outputs.shape[0] == probes.inputs.shape[0],
                  probes.outputs.scalars.count == Tensor.elementCount(probes.outputs.shape)
            else {
                throw fail("probes must be inputs [n, \(input.height), \(input.width), \(input.channels)] and outputs [n, k]; found \(probes.inputs.shape) and \(probes.outputs.shape)")
            }
        }
        for key in model.metadata.keys where key.isEmpty || key == "." {
            throw fail("metadata key '\(key)' cannot be an HDF5 attribute name")
        }
    }

    private func checkTensors(_ tensors: [TensorDescriptor], against expected: [(String, [Int])], what: String) throws {
        let given = Dictionary(tensors.map { ($0.name, $0.shape) }, uniquingKeysWith: { first, _ in first })
        guard given.count == tensors.count else { throw HDF5Error.cannotWrite(file: file, reason: "a \(what) name is given twice") }
        for (name, shape) in expected {
            guard let found = given[name] else { throw HDF5Error.cannotWrite(file: file, reason: "\(what) \(name) is missing") }
            guard found == shape else {
                throw HDF5Error.cannotWrite(file: file, reason: "\(what) \(name): expected shape \(shape), found \(found)")
            }
        }
        if let extra = Set(given.keys).subtracting(expected.map(\.0)).sorted().first {
            throw HDF5Error.cannotWrite(file: file, reason: "\(what) \(extra) is not part of the architecture")
        }
    }

    /// Creates `temp` (`H5Fcreate`) and writes everything into it.
    func write(temp: String) throws {
        let sink = HDF5Sink(check: HDF5Checker(file: file, writing: true), compression: options.compression)
        let root = try sink.createFile(temp)

        try sink.setString(root, "backend", KerasRelease.backend, utf8: true, path: "/")
        try sink.setString(root, "keras_version", KerasRelease.version, utf8: true, path: "/")
        try sink.setString(root, "model_config", KerasModelConfig.modelConfig(model.architecture).serialized(), utf8: false, path: "/")
        if let state = model.trainingState {
            try sink.setString(root, "training_config", KerasTrainingConfig.trainingConfig(state.optimizer).serialized(), utf8: false, path: "/")
        }
        try writeModelWeights(root, sink: sink)
        if let state = model.trainingState { try writeOptimizerWeights(root, state: state, sink: sink) }
        try CNNKitGroupWriter(document: model.smallParts, file: file).write(root, sink: sink)
        try sink.flush(root)
    }

    private func fetch(_ descriptor: TensorDescriptor) throws -> Tensor {
        try model.fetchForHDF5(descriptor, file: file)
    }

    /// `/model_weights`: `layer_names`, one group per Keras layer (sorted by name, as Keras creates them) with
    /// `weight_names` and the datasets, and the empty `top_level_model_weights`.
    private func writeModelWeights(_ root: HDF5Handle, sink: HDF5Sink) throws {
        let base = "/\(HDF5Layout.modelWeights)"
        let group = try sink.createGroup(root, HDF5Layout.modelWeights, path: base)
        let planned = KerasModelConfig.plan(model.architecture)
        try sink.setStringList(group, "layer_names", planned.map(\.name), path: base)
        try sink.setString(group, "backend", KerasRelease.backend, utf8: false, path: base)
        try sink.setString(group, "keras_version", KerasRelease.version, utf8: false, path: base)
        let tensors = Dictionary(model.parameters.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for layer in planned.sorted(by: { $0.name < $1.name }) {
            let path = "\(base)/\(layer.name)"
            let layerGroup = try sink.createGroup(group, layer.name, path: path)
            let params = layer.weightsOf.map { weighted in
                ["kernel", "bias"].filter { tensors["\(weighted.name).\($0)"] != nil }
            } ?? []
            if params.isEmpty {
                try sink.setEmptyList(layerGroup, "weight_names", path: path)
                continue
            }
            try sink.setStringList(layerGroup, "weight_names", params.map { HDF5Layout.weightPath(layer: layer.name, param: $0) }, path: path)
            let model = try sink.createGroup(layerGroup, HDF5Layout.modelName, path: "\(path)/\(HDF5Layout.modelName)")
            let inner = "\(path)/\(HDF5Layout.modelName)/\(layer.name)"
            let holder = try sink.createGroup(model, layer.name, path: inner)
            for param in params {
                guard let descriptor = tensors["\(layer.name).\(param)"] else { continue }
                let tensor = try fetch(descriptor)
                try sink.writeFloats(holder, param, shape: tensor.shape, scalars: tensor.scalars, path: "\(inner)/\(param)")
            }
        }
        let top = try sink.createGroup(group, "top_level_model_weights", path: "\(base)/top_level_model_weights")
        try sink.setEmptyList(top, "weight_names", path: "\(base)/top_level_model_weights")
    }

    /// `/optimizer_weights`: `weight_names` and, in the optimizer's group, `iteration`, `learning_rate` and the
    /// slots in Keras' order and names. Slots absent from the state are written as zeros (a fresh optimizer).
    private func writeOptimizerWeights(_ root: HDF5Handle, state: TrainingState, sink: HDF5Sink) throws {
        let base = "/\(HDF5Layout.optimizerWeights)"
        let group = try sink.createGroup(root, HDF5Layout.optimizerWeights, path: base)
        let name = KerasTrainingConfig.optimizerName(state.optimizer.kind)
        let slots = Dictionary(model.slots.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var entries: [(dataset: String, slot: TensorDescriptor?, shape: [Int])] = []
        for spec in try model.architecture.parameterSpecs() {
            for slot in state.optimizer.slotNames {
                let descriptor = slots[TrainingState.slotName(parameter: spec.name, slot: slot)]
                entries.append((KerasTrainingConfig.slotDatasetName(parameter: spec.name, slot: slot), descriptor, spec.shape))
            }
        }
        try sink.setStringList(group, "weight_names", ["\(name)/iteration", "\(name)/learning_rate"] + entries.map { "\(name)/\($0.dataset)" }, path: base)
        let path = "\(base)/\(name)"
        let optimizer = try sink.createGroup(group, name, path: path)
        try sink.writeScalarInt32(optimizer, "iteration", value: Int32(clamping: state.step), path: "\(path)/iteration")
        try sink.writeScalarFloat(optimizer, "learning_rate", value: state.optimizer.learningRate, path: "\(path)/learning_rate")
        for entry in entries {
            let tensor = try entry.slot.map(fetch) ?? Tensor(zeros: entry.shape)
            try sink.writeFloats(optimizer, entry.dataset, shape: tensor.shape, scalars: tensor.scalars, path: "\(path)/\(entry.dataset)")
        }
    }
}

extension StreamedModel {
    /// The model without its parameters and slots (architecture, training-state scalars, probes, metadata): what
    /// the `/cnnkit` group and Keras' config hold.
    var smallParts: ModelDocument {
        ModelDocument(architecture: header.architecture, tensors: [], trainingState: header.trainingState, probes: header.probes, metadata: header.metadata)
    }

    /// Fetches a tensor for an HDF5 writer, turning a shape that differs from its descriptor into a write error
    /// naming `file`. The watchdog does not count the fetch as libhdf5's time (the source may decompress and
    /// check the tensor).
    func fetchForHDF5(_ descriptor: TensorDescriptor, file: String) throws -> Tensor {
        do {
            return try HDF5Library.outsideLibHDF5 { try fetch(descriptor) }
        } catch let error as ConvNetError {
            throw HDF5Error.cannotWrite(file: file, reason: "\(error)")
        }
    }
}

import ConvNet
import HDF5Format
import ModelArchive

/// Writes a model in the Keras 3 weights layout (what `model.save_weights("m.weights.h5")` writes
/// and what a `.keras` holds as `model.weights.h5`) plus the `/cnnkit` group (`Schemas/keras-mapping.md` §2):
///
/// ```
/// /vars                   @name 'sequential'
/// /layers/<group>/vars    @name '<layer>'   0: kernel   1: bias (when the layer has one)
/// /optimizer/vars         @name 'sgd'|'adam'   0: iteration int32   1: learning_rate float32   2...: slots
/// /cnnkit                 architecture, training state, probes, metadata (Keras ignores it)
/// ```
///
/// The model is a ``StreamedModel``: each dataset's tensor is fetched just before it is written and released
/// right after.
struct KerasWeightsWriter {
    let model: StreamedModel
    /// The destination the user named (for messages).
    let file: String
    let options: HDF5WriteOptions

    /// Checks that the model fits the layout, before any file is created (the same rules as the legacy
    /// full-model writer: the `.keras` config carries the same Keras layers).
    func validate() throws {
        try HDF5ModelWriter(model: model, file: file, options: options).validate()
    }

    /// Creates `temp` (`H5Fcreate`) and writes everything into it.
    func write(temp: String) throws {
        let sink = HDF5Sink(check: HDF5Checker(file: file, writing: true), compression: options.compression)
        let root = try sink.createFile(temp)
        // Keras' order: the model's own (empty) variables, the layers in model order, the optimizer.
        try namedVars(root, path: "", name: HDF5Layout.modelName, sink: sink) { _, _ in }
        try writeLayers(root, sink: sink)
        if let state = model.trainingState { try writeOptimizer(root, state: state, sink: sink) }
        try CNNKitGroupWriter(document: model.smallParts, file: file).write(root, sink: sink)
        try sink.flush(root)
    }

    /// Creates `<path>/vars` with `@name` and fills it through `body`.
    private func namedVars(_ parent: HDF5Handle, path: String, name: String, sink: HDF5Sink,
                           _ body: (HDF5Handle, String) throws -> Void) throws {
        let varsPath = "\(path)/\(KerasWeightsLayout.vars)"
        let vars = try sink.createGroup(parent, KerasWeightsLayout.vars, path: varsPath)
        try sink.setString(vars, "name", name, utf8: true, path: varsPath)
        try body(vars, varsPath)
    }

    /// `/layers/<group>/vars` for every Keras layer, with the kernel and bias of the layers that have them.
    private func writeLayers(_ root: HDF5Handle, sink: HDF5Sink) throws {
        let base = "/\(KerasWeightsLayout.layers)"
        let layers = try sink.createGroup(root, KerasWeightsLayout.layers, path: base)
        let tensors = Dictionary(model.parameters.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for entry in KerasWeightsLayout.entries(model.architecture) {
            let path = "\(base)/\(entry.group)"
            let group = try sink.createGroup(layers, entry.group, path: path)
            try namedVars(group, path: path, name: entry.name, sink: sink) { vars, varsPath in
                guard let layer = entry.weightsOf else { return }
                let params = ["kernel", "bias"].compactMap { tensors["\(layer.name).\($0)"] }
                for (index, descriptor) in params.enumerated() {
                    let tensor = try model.fetchForHDF5(descriptor, file: file)
                    try sink.writeFloats(vars, String(index), shape: tensor.shape, scalars: tensor.scalars, path: "\(varsPath)/\(index)")
                }
            }
        }
    }

    /// `/optimizer/vars`: `0` iteration (int32), `1` learning rate (float32), then every parameter's slots in
    /// parameter order, each parameter's slots in the optimizer's order (SGD `momentum`; Adam `momentum`,
    /// `velocity`). Slots absent from the state are written as zeros (a fresh optimizer).
    private func writeOptimizer(_ root: HDF5Handle, state: TrainingState, sink: HDF5Sink) throws {
        let base = "/\(KerasWeightsLayout.optimizer)"
        let group = try sink.createGroup(root, KerasWeightsLayout.optimizer, path: base)
        let slots = Dictionary(model.slots.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var entries: [(slot: TensorDescriptor?, shape: [Int])] = []
        for spec in try model.architecture.parameterSpecs() {
            for slot in state.optimizer.slotNames {
                entries.append((slots[TrainingState.slotName(parameter: spec.name, slot: slot)], spec.shape))
            }
        }
        try namedVars(group, path: base, name: KerasTrainingConfig.optimizerName(state.optimizer.kind), sink: sink) { vars, path in
            try sink.writeScalarInt32(vars, "0", value: Int32(clamping: state.step), path: "\(path)/0")
            try sink.writeScalarFloat(vars, "1", value: state.optimizer.learningRate, path: "\(path)/1")
            for (offset, entry) in entries.enumerated() {
                let name = String(offset + 2)
                let tensor = try entry.slot.map { try model.fetchForHDF5($0, file: file) } ?? Tensor(zeros: entry.shape)
                try sink.writeFloats(vars, name, shape: tensor.shape, scalars: tensor.scalars, path: "\(path)/\(name)")
            }
        }
    }
}

import CHDF5
import ConvNet
import Foundation
import ModelArchive

/// Reads a ``ModelDocument`` from our files (Keras part plus `/cnnkit`) and from Keras legacy full-model files
/// (`Schemas/hdf5-layout.md`). It opens only the paths the layout names.
struct HDF5ModelReader {
    let source: HDF5Source
    let root: hid_t
    var check: HDF5Checker { source.check }

    /// Reads the whole document.
    func read() throws -> ModelDocument {
        if try source.exists(root, HDF5Layout.cnnkit, path: "/\(HDF5Layout.cnnkit)") {
            return try readOurs()
        }
        return try readKeras()
    }

    // MARK: Our files

    private func readOurs() throws -> ModelDocument {
        let cnnkit = CNNKitGroupReader(source: source)
        let group = try cnnkit.openGroup(root)
        defer { H5Oclose(group) }
        let architecture = try cnnkit.architecture(group)
        let tensors = try readWeights(architecture)
        let state = try cnnkit.trainingState(group) { optimizer in
            try readOptimizerWeights(architecture: architecture, optimizer: optimizer).slots
        }
        return ModelDocument(architecture: architecture, tensors: tensors, trainingState: state,
                             probes: try cnnkit.probes(group, architecture: architecture), metadata: try cnnkit.metadata(group))
    }

    // MARK: Keras files

    private func readKeras() throws -> ModelDocument {
        guard let modelConfig = try source.string(root, "model_config", path: "/") else {
            throw check.invalid("/@model_config", "missing: neither a CNNKit file (/cnnkit) nor a Keras full-model file")
        }
        let architecture = try KerasModelConfig.architecture(modelConfig: modelConfig, check: check, location: "/@model_config")
        let tensors = try readWeights(architecture)
        var state: TrainingState?
        if let trainingConfig = try source.string(root, "training_config", path: "/") {
            let optimizer = try KerasTrainingConfig.optimizer(trainingConfig: trainingConfig, check: check, location: "/@training_config")
            var step = 0, slots: [NamedTensor] = [], learningRate = optimizer.learningRate
            if try source.exists(root, HDF5Layout.optimizerWeights, path: "/\(HDF5Layout.optimizerWeights)") {
                let read = try readOptimizerWeights(architecture: architecture, optimizer: optimizer)
                (step, slots, learningRate) = (read.step, read.slots, read.learningRate)
            }
            var config = optimizer
            config.learningRate = learningRate
            let seed: UInt64 = 0
            state = TrainingState(step: step, batchSize: 32, optimizer: config, slots: slots,
                                  rngState: RandomGenerator(seed: seed).state, seed: seed)
        }
        return ModelDocument(architecture: architecture, tensors: tensors, trainingState: state, metadata: [:])
    }

    // MARK: Shared: Keras weights and optimizer weights

    /// Reads every parameter from `/model_weights/<layer>` through its `weight_names` (kernel, then bias).
    private func readWeights(_ architecture: Architecture) throws -> [NamedTensor] {
        let base = "/\(HDF5Layout.modelWeights)"
        let weights = try source.openGroup(root, HDF5Layout.modelWeights, base: "/")
        defer { H5Oclose(weights) }
        let specs: [ParameterSpec]
        do {
            specs = try architecture.parameterSpecs()
        } catch {
            throw check.invalid(base, "\(error)")
        }
        var tensors: [NamedTensor] = []
        for (layerIndex, layer) in architecture.layers.enumerated() {
            let layerSpecs = specs.filter { $0.layerIndex == layerIndex }
            if layerSpecs.isEmpty { continue }
            let path = "\(base)/\(layer.name)"
            let group = try source.openGroup(weights, layer.name, base: base)
            defer { H5Oclose(group) }
            guard let names = try source.strings(group, "weight_names", path: path) else {
                throw check.invalid("\(path)@weight_names", "missing")
            }
            guard names.count == layerSpecs.count else {
                throw check.invalid("\(path)@weight_names", "layer \(layer.name) needs \(layerSpecs.count) weight(s) (\(layerSpecs.map(\.name).joined(separator: ", "))), found \(names.count)")
            }
            for (spec, name) in zip(layerSpecs, names) {
                let tensor = try source.readFloats(group, name, base: path, expected: spec.shape)
                tensors.append(NamedTensor(name: spec.name, tensor: tensor))
            }
        }
        return tensors
    }

    /// Reads `/optimizer_weights`: `iteration`, `learning_rate` and one dataset per parameter and slot, in
    /// Keras' order, mapped to our slot names.
    private func readOptimizerWeights(architecture: Architecture, optimizer: OptimizerConfig) throws
        -> (step: Int, learningRate: Float, slots: [NamedTensor]) {
        let base = "/\(HDF5Layout.optimizerWeights)"
        let group = try source.openGroup(root, HDF5Layout.optimizerWeights, base: "/")
        defer { H5Oclose(group) }
        guard let names = try source.strings(group, "weight_names", path: base) else { throw check.invalid("\(base)@weight_names", "missing") }
        let specs = try architecture.parameterSpecs()
        var expected: [(name: String, shape: [Int], suffix: String)] = []
        for spec in specs {
            let param = spec.isBias ? "bias" : "kernel"
            for slot in optimizer.slotNames {
                expected.append((TrainingState.slotName(parameter: spec.name, slot: slot), spec.shape, "\(param)_\(slot)"))
            }
        }
        guard names.count == expected.count + 2 else {
            throw check.invalid("\(base)@weight_names", "\(optimizer.kind.rawValue) with slots \(optimizer.slotNames) needs iteration, learning_rate and \(expected.count) slot(s), found \(names.count) name(s)")
        }
        guard names[0].hasSuffix("iteration") || names[0].hasSuffix("iterations"), names[1].hasSuffix("learning_rate") else {
            throw check.invalid("\(base)@weight_names", "expected iteration and learning_rate first, found \(names[0]) and \(names[1])")
        }
        let iteration = try source.readInteger(group, names[0], base: base)
        guard iteration >= 0, let step = Int(exactly: iteration) else { throw check.invalid("\(base)/\(names[0])", "iteration \(iteration) is negative") }
        let learningRate = try source.readScalarFloat(group, names[1], base: base)
        var slots: [NamedTensor] = []
        for (entry, name) in zip(expected, names.dropFirst(2)) {
            guard name.hasSuffix(entry.suffix) else {
                throw check.invalid("\(base)@weight_names", "expected a name ending in \(entry.suffix) for \(entry.name), found \(name)")
            }
            slots.append(NamedTensor(name: entry.name, tensor: try source.readFloats(group, name, base: base, expected: entry.shape)))
        }
        return (step, learningRate, slots)
    }
}

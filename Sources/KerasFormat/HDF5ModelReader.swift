import ConvNet
import Foundation
import HDF5Format
import ModelArchive

/// Reads a ``ModelDocument`` from our files (Keras part plus `/cnnkit`) and from Keras legacy full-model files
/// (`Schemas/hdf5-layout.md`). It opens only the paths the layout names.
struct HDF5ModelReader {
    let source: HDF5Source
    var root: HDF5Handle { source.root }
    var check: HDF5Checker { source.check }

    /// Reads the whole document.
    func read() throws -> ModelDocument {
        try readLayout().document { try readTensor($0) }
    }

    /// Reads everything but the parameter and slot values.
    func readLayout() throws -> HDF5ModelLayout {
        if try source.exists(root, HDF5Layout.cnnkit, path: "/\(HDF5Layout.cnnkit)") {
            return try readOurs()
        }
        return try readKeras()
    }

    /// Reads one parameter or slot, checking the dataset before allocating (``HDF5Source/inspect(_:path:)``).
    func readTensor(_ located: HDF5ModelLayout.Located) throws -> Tensor {
        try source.readFloats(root, located.path, base: "/", expected: located.descriptor.shape)
    }

    // MARK: Our files

    private func readOurs() throws -> HDF5ModelLayout {
        let cnnkit = CNNKitGroupReader(source: source)
        let group = try cnnkit.openGroup(root)
        let architecture = try cnnkit.architecture(group)
        let tensors = try readWeights(architecture)
        // The slots are located here and read on demand; the state keeps none.
        var slots: [HDF5ModelLayout.Located] = []
        var kerasCopy: (step: Int, learningRate: Float)?
        let state = try cnnkit.trainingState(group) { optimizer in
            let read = try readOptimizerWeights(architecture: architecture, optimizer: optimizer)
            (slots, kerasCopy) = (read.slots, (read.step, read.learningRate))
            return []
        }
        if let state, let kerasCopy { try cnnkit.checkKerasCopy(kerasCopy, of: state, at: "/\(HDF5Layout.optimizerWeights)") }
        return HDF5ModelLayout(architecture: architecture, trainingState: state, probes: try cnnkit.probes(group, architecture: architecture),
                               metadata: try cnnkit.metadata(group), parameters: tensors, slots: slots)
    }

    // MARK: Keras files

    private func readKeras() throws -> HDF5ModelLayout {
        guard let modelConfig = try source.string(root, "model_config", path: "/") else {
            throw check.invalid("/@model_config", "missing: neither a CNNKit file (/cnnkit) nor a Keras full-model file")
        }
        let architecture = try KerasModelConfig.architecture(modelConfig: modelConfig, check: check, location: "/@model_config")
        let tensors = try readWeights(architecture)
        var state: TrainingState?
        var slots: [HDF5ModelLayout.Located] = []
        if let trainingConfig = try source.string(root, "training_config", path: "/") {
            let optimizer = try KerasTrainingConfig.optimizer(trainingConfig: trainingConfig, check: check, location: "/@training_config")
            var step = 0, learningRate = optimizer.learningRate
            if try source.exists(root, HDF5Layout.optimizerWeights, path: "/\(HDF5Layout.optimizerWeights)") {
                let read = try readOptimizerWeights(architecture: architecture, optimizer: optimizer)
                (step, slots, learningRate) = (read.step, read.slots, read.learningRate)
            }
            var config = optimizer
            config.learningRate = learningRate
            let seed: UInt64 = 0
            state = TrainingState(step: step, batchSize: 32, optimizer: config, slots: [],
                                  rngState: RandomGenerator(seed: seed).state, seed: seed)
        }
        return HDF5ModelLayout(architecture: architecture, trainingState: state, probes: nil, metadata: [:], parameters: tensors, slots: slots)
    }

    // MARK: Shared: Keras weights and optimizer weights

    /// Locates every parameter in `/model_weights/<layer>` through its `weight_names` (kernel, then bias).
    private func readWeights(_ architecture: Architecture) throws -> [HDF5ModelLayout.Located] {
        let base = "/\(HDF5Layout.modelWeights)"
        let weights = try source.openGroup(root, HDF5Layout.modelWeights, base: "/")
        let specs: [ParameterSpec]
        do {
            specs = try architecture.parameterSpecs()
        } catch {
            throw check.invalid(base, "\(error)")
        }
        var tensors: [HDF5ModelLayout.Located] = []
        for (layerIndex, layer) in architecture.layers.enumerated() {
            let layerSpecs = specs.filter { $0.layerIndex == layerIndex }
            if layerSpecs.isEmpty { continue }
            let path = "\(base)/\(layer.name)"
            let group = try source.openGroup(weights, layer.name, base: base)
            guard let names = try source.strings(group, "weight_names", path: path) else {
                throw check.invalid("\(path)@weight_names", "missing")
            }
            guard names.count == layerSpecs.count else {
                throw check.invalid("\(path)@weight_names", "layer \(layer.name) needs \(layerSpecs.count) weight(s) (\(layerSpecs.map(\.name).joined(separator: ", "))), found \(names.count)")
            }
            for (spec, name) in zip(layerSpecs, names) {
                let relative = "\(HDF5Layout.modelWeights)/\(layer.name)/\(name)"
                tensors.append(HDF5ModelLayout.Located(descriptor: TensorDescriptor(name: spec.name, shape: spec.shape), path: relative))
            }
        }
        return tensors
    }

    /// Reads `/optimizer_weights`: `iteration`, `learning_rate`, and locates one dataset per parameter and slot,
    /// in Keras' order, mapped to our slot names.
    private func readOptimizerWeights(architecture: Architecture, optimizer: OptimizerConfig) throws
        -> (step: Int, learningRate: Float, slots: [HDF5ModelLayout.Located]) {
        let base = "/\(HDF5Layout.optimizerWeights)"
        let group = try source.openGroup(root, HDF5Layout.optimizerWeights, base: "/")
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
        var slots: [HDF5ModelLayout.Located] = []
        for (entry, name) in zip(expected, names.dropFirst(2)) {
            guard name.hasSuffix(entry.suffix) else {
                throw check.invalid("\(base)@weight_names", "expected a name ending in \(entry.suffix) for \(entry.name), found \(name)")
            }
            slots.append(HDF5ModelLayout.Located(descriptor: TensorDescriptor(name: entry.name, shape: entry.shape),
                                                 path: "\(HDF5Layout.optimizerWeights)/\(name)"))
        }
        return (step, learningRate, slots)
    }
}

import CHDF5
import ConvNet
import Foundation
import ModelArchive

/// Everything a model file holds except the values of its parameters and optimizer slots, and where each of
/// those is: what a streaming reader keeps once the file is open.
struct HDF5ModelLayout {
    /// A tensor and its dataset path relative to the root group (such as `model_weights/dense/sequential/dense/kernel`).
    struct Located {
        var descriptor: TensorDescriptor
        var path: String
    }

    var architecture: Architecture
    /// The training state without its slots.
    var trainingState: TrainingState?
    var probes: Probes?
    var metadata: [String: String]
    var parameters: [Located]
    var slots: [Located]
}

/// Reads a ``ModelDocument`` from our files (Keras part plus `/cnnkit`) and from Keras legacy full-model files
/// (`Schemas/hdf5-layout.md`). It opens only the paths the layout names.
struct HDF5ModelReader {
    let source: HDF5Source
    let root: hid_t
    var check: HDF5Checker { source.check }

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
        let base = "/\(HDF5Layout.cnnkit)"
        let group = try source.openGroup(root, HDF5Layout.cnnkit, base: "/")
        defer { H5Oclose(group) }
        guard let version = try source.integer(group, "format_version", path: base) else {
            throw check.invalid("\(base)@format_version", "missing")
        }
        guard version == HDF5Layout.formatVersion else {
            throw check.unsupported("\(base)@format_version", "version \(version) (this build reads \(HDF5Layout.formatVersion))")
        }
        guard let json = try source.string(group, "architecture", path: base) else { throw check.invalid("\(base)@architecture", "missing") }
        let architecture: Architecture
        do {
            architecture = try Architecture.decode(json: Data(json.utf8))
        } catch {
            throw check.invalid("\(base)@architecture", "\(error)")
        }
        let tensors = try readWeights(architecture)
        var state: TrainingState?
        var slots: [HDF5ModelLayout.Located] = []
        if try source.exists(group, HDF5Layout.training, path: "\(base)/\(HDF5Layout.training)") {
            (state, slots) = try readTraining(group, architecture: architecture)
        }
        var probes: Probes?
        if try source.exists(group, HDF5Layout.probes, path: "\(base)/\(HDF5Layout.probes)") {
            probes = try readProbes(group, architecture: architecture)
        }
        var metadata: [String: String] = [:]
        if try source.exists(group, HDF5Layout.metadata, path: "\(base)/\(HDF5Layout.metadata)") {
            metadata = try readMetadata(group)
        }
        return HDF5ModelLayout(architecture: architecture, trainingState: state, probes: probes, metadata: metadata,
                               parameters: tensors, slots: slots)
    }

    private func readTraining(_ parent: hid_t, architecture: Architecture) throws -> (TrainingState, [HDF5ModelLayout.Located]) {
        let path = "/\(HDF5Layout.cnnkit)/\(HDF5Layout.training)"
        let group = try source.openGroup(parent, HDF5Layout.training, base: "/\(HDF5Layout.cnnkit)")
        defer { H5Oclose(group) }
        guard let json = try source.string(group, "state", path: path) else { throw check.invalid("\(path)@state", "missing") }
        var state: TrainingState
        do {
            state = try HDF5Layout.stateDecoder().decode(TrainingState.self, from: Data(json.utf8))
        } catch {
            throw check.invalid("\(path)@state", "training state JSON: \(error)")
        }
        let historyBase = "\(path)/\(HDF5Layout.history)"
        let loss = try source.readDoubles(group, "\(HDF5Layout.history)/loss", base: path)
        let train = try source.readDoubles(group, "\(HDF5Layout.history)/train_accuracy", base: path)
        let test = try source.readDoubles(group, "\(HDF5Layout.history)/test_accuracy", base: path)
        guard train.count == loss.count, test.count == loss.count else {
            throw check.invalid(historyBase, "loss, train_accuracy and test_accuracy must have one entry per epoch; found \(loss.count), \(train.count), \(test.count)")
        }
        state.history = (0..<loss.count).map { EpochRecord(loss: loss[$0], trainAccuracy: train[$0], testAccuracy: test[$0].isNaN ? nil : test[$0]) }
        state.slots = []
        return (state, try readOptimizerWeights(architecture: architecture, optimizer: state.optimizer).slots)
    }

    private func readProbes(_ parent: hid_t, architecture: Architecture) throws -> Probes {
        let base = "/\(HDF5Layout.cnnkit)/\(HDF5Layout.probes)"
        let group = try source.openGroup(parent, HDF5Layout.probes, base: "/\(HDF5Layout.cnnkit)")
        defer { H5Oclose(group) }
        let input = architecture.input
        let inputs = try source.readFloats(group, "inputs", base: base)
        guard inputs.shape.count == 4, Array(inputs.shape.dropFirst()) == [input.height, input.width, input.channels] else {
            throw check.invalid("\(base)/inputs", "expected shape [n, \(input.height), \(input.width), \(input.channels)], found \(inputs.shape)")
        }
        let outputCount = try architecture.outputShape().count
        let outputs = try source.readFloats(group, "outputs", base: base, expected: [inputs.shape[0], outputCount])
        return Probes(inputs: inputs, outputs: outputs, source: try source.string(group, "source", path: base) ?? "")
    }

    private func readMetadata(_ parent: hid_t) throws -> [String: String] {
        let path = "/\(HDF5Layout.cnnkit)/\(HDF5Layout.metadata)"
        let group = try source.openGroup(parent, HDF5Layout.metadata, base: "/\(HDF5Layout.cnnkit)")
        defer { H5Oclose(group) }
        let count = try check.count("H5Aget_num_attrs", path, H5Aget_num_attrs(group))
        guard count <= HDF5Source.maximumListCount else { throw check.refused(path, "\(count) attributes") }
        var metadata: [String: String] = [:]
        for index in 0..<count {
            let length = try check.count("H5Aget_name_by_idx", path,
                                         H5Aget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), nil, 0, h5Default))
            guard length < 65536 else { throw check.refused(path, "attribute name of \(length) bytes") }
            var buffer = [CChar](repeating: 0, count: length + 1)
            _ = try check.count("H5Aget_name_by_idx", path,
                                H5Aget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), &buffer, buffer.count, h5Default))
            let key = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            metadata[key] = try source.string(group, key, path: path) ?? ""
        }
        return metadata
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
        defer { H5Oclose(weights) }
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
            defer { H5Oclose(group) }
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

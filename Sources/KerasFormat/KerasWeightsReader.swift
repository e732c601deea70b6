import ConvNet
import HDF5Format
import ModelArchive

/// Reads the Keras 3 weights layout (`Schemas/keras-mapping.md` §2), written by Keras
/// (`save_weights`, the `model.weights.h5` of a `.keras`) or by CNNKit (plus `/cnnkit`).
///
/// The layout holds no architecture. It comes from the caller (`--architecture`, a `.keras` file's
/// `config.json`) or else from our `/cnnkit@architecture`. Every layer with parameters must have exactly its
/// parameters, with exactly the shapes the architecture implies; a mismatch names the layer and both shapes.
struct KerasWeightsReader {
    let source: HDF5Source
    var root: HDF5Handle { source.root }
    var check: HDF5Checker { source.check }

    /// Where the architecture and optimizer come from when the file has no `/cnnkit` group.
    struct Context {
        /// The architecture the caller gives (wins over `/cnnkit@architecture`).
        var architecture: Architecture?
        /// Produces an architecture when neither the caller nor the file has one (a sibling `config.json`).
        var fallbackArchitecture: () throws -> Architecture? = { nil }
        /// The optimizer from a `.keras` file's `compile_config`, used with `/optimizer/vars` in Keras files.
        var optimizer: OptimizerConfig?
    }

    /// True when the root looks like the Keras 3 weights layout: a `/layers` group and no `/model_weights`.
    static func isWeightsLayout(source: HDF5Source) throws -> Bool {
        guard try !source.exists(source.root, HDF5Layout.modelWeights, path: "/\(HDF5Layout.modelWeights)") else { return false }
        return try source.exists(source.root, KerasWeightsLayout.layers, path: "/\(KerasWeightsLayout.layers)")
    }

    /// Reads the whole document.
    func read(_ context: Context) throws -> ModelDocument {
        try readLayout(context).document { try readTensor($0) }
    }

    /// Reads everything but the parameter and slot values, and locates each of those (its shape checked against
    /// the architecture's).
    ///
    /// Our `/cnnkit` extras (training state, probes, metadata) are read when the architecture is ours or equal to
    /// ours. Keras files give a training state only with an optimizer from the context (a `.keras` compiled
    /// model): `step` = `iteration`, the stored learning rate and slots, epoch 0, batch size 32, seed 0.
    func readLayout(_ context: Context) throws -> HDF5ModelLayout {
        let cnnkit = CNNKitGroupReader(source: source)
        let ours = try cnnkit.exists(root) ? cnnkit.openGroup(root) : nil
        let embedded = try ours.map { try cnnkit.architecture($0) }
        guard let architecture = try context.architecture ?? embedded ?? context.fallbackArchitecture() else {
            throw check.invalid("/", "a Keras .weights.h5 file holds no architecture: give one (--architecture FILE.json) or put the Keras config.json beside it")
        }
        do {
            try architecture.validate()
        } catch {
            throw check.invalid("/", "the architecture given for this file is invalid: \(error)")
        }
        let tensors = try locateLayers(architecture)
        try refuseForeignData()
        guard let ours, embedded == architecture else {
            var slots: [HDF5ModelLayout.Located] = []
            let state = try context.optimizer.flatMap { optimizer in
                try kerasState(architecture: architecture, optimizer: optimizer, slots: &slots)
            }
            return HDF5ModelLayout(architecture: architecture, trainingState: state, probes: nil, metadata: [:], parameters: tensors, slots: slots)
        }
        // The slots are located here and read on demand; the state keeps none.
        var slots: [HDF5ModelLayout.Located] = []
        var kerasCopy: (step: Int, learningRate: Float)?
        let state = try cnnkit.trainingState(ours) { optimizer in
            guard let read = try locateOptimizer(architecture: architecture, optimizer: optimizer) else {
                throw check.invalid("/\(KerasWeightsLayout.optimizer)", "missing, but /cnnkit/training records a training state")
            }
            (slots, kerasCopy) = (read.slots, (read.step, read.learningRate))
            return []
        }
        if let state, let kerasCopy {
            try cnnkit.checkKerasCopy(kerasCopy, of: state, at: "/\(KerasWeightsLayout.optimizer)/\(KerasWeightsLayout.vars)")
        }
        return HDF5ModelLayout(architecture: architecture, trainingState: state, probes: try cnnkit.probes(ours, architecture: architecture),
                               metadata: try cnnkit.metadata(ours), parameters: tensors, slots: slots)
    }

    /// Reads one located parameter or slot, checking the dataset before allocating.
    func readTensor(_ located: HDF5ModelLayout.Located) throws -> Tensor {
        try source.readFloats(root, located.path, base: "/", expected: located.descriptor.shape)
    }

    /// The shape of the dataset at `base`/`name` below `parent`, checked before anything is read
    /// (``HDF5Source/inspect(_:path:)``).
    private func shape(_ parent: HDF5Handle, _ name: String, base: String) throws -> [Int] {
        let path = source.join(base, name)
        return try source.inspect(try source.openDataset(parent, name, base: base), path: path).shape
    }

    // MARK: Layers

    /// Locates each layer's parameters in its `/layers/<group>/vars` and checks that no other layer group holds
    /// variables.
    private func locateLayers(_ architecture: Architecture) throws -> [HDF5ModelLayout.Located] {
        let base = "/\(KerasWeightsLayout.layers)"
        let layers = try source.openGroup(root, KerasWeightsLayout.layers, base: "/")
        let specs = try architecture.parameterSpecs()
        let groups = KerasWeightsLayout.weightGroups(architecture)
        var tensors: [HDF5ModelLayout.Located] = []
        for (index, layer) in architecture.layers.enumerated() {
            let layerSpecs = specs.filter { $0.layerIndex == index }
            guard let group = groups[layer.name], !layerSpecs.isEmpty else { continue }
            let path = "\(base)/\(group)/\(KerasWeightsLayout.vars)"
            guard try source.exists(layers, group, path: "\(base)/\(group)") else {
                throw check.invalid("\(base)/\(group)", "missing: layer \(layer.name) (\(layer.kind.typeName)) needs its weights here")
            }
            let vars = try source.openGroup(layers, "\(group)/\(KerasWeightsLayout.vars)", base: base)
            let members = try source.memberNames(vars, path: path)
            guard members.count == layerSpecs.count else {
                throw check.invalid(path, "layer \(layer.name) has \(layerSpecs.count) parameter(s) (\(layerSpecs.map(\.name).joined(separator: ", "))), the file holds \(members.count)")
            }
            for (position, spec) in layerSpecs.enumerated() {
                let found = try shape(vars, String(position), base: path)
                guard found == spec.shape else {
                    throw check.invalid("\(path)/\(position)", "layer \(layer.name) \(spec.isBias ? "bias" : "kernel"): the architecture needs shape \(spec.shape), the file holds \(found)")
                }
                tensors.append(HDF5ModelLayout.Located(descriptor: TensorDescriptor(name: spec.name, shape: spec.shape), path: "\(path.dropFirst())/\(position)"))
            }
        }
        // A group with variables that no layer of the architecture reads means another model.
        let expected = Set(groups.values)
        for member in try source.memberNames(layers, path: base) where !expected.contains(member) {
            let varsPath = "\(base)/\(member)/\(KerasWeightsLayout.vars)"
            let layer = try source.openGroup(layers, member, base: base)
            guard try source.exists(layer, KerasWeightsLayout.vars, path: varsPath) else { continue }
            let vars = try source.openGroup(layer, KerasWeightsLayout.vars, base: "\(base)/\(member)")
            let count = try source.memberNames(vars, path: varsPath).count
            if count > 0 {
                throw check.invalid(varsPath, "the file holds \(count) variable(s) for a Keras layer the architecture does not have (it has \(groups.count) layer(s) with weights: \(groups.values.sorted().joined(separator: ", ")))")
            }
        }
        return tensors
    }

    /// Refuses a top-level object that holds data but is neither Keras' (`layers`, `optimizer`, `vars`) nor
    /// CNNKit's (`cnnkit`): a damaged or foreign file. One flipped byte in a link name (`/cnnkut`) would otherwise
    /// make a CNNKit file read as a plain Keras file, without its digests and training state. Groups without
    /// datasets (Keras trackables that own no variables) pass.
    private func refuseForeignData() throws {
        let known: Set<String> = [KerasWeightsLayout.layers, KerasWeightsLayout.optimizer, KerasWeightsLayout.vars, HDF5Layout.cnnkit]
        for member in try source.memberNames(root, path: "/") where !known.contains(member) {
            if try source.holdsDataset(root, member, path: "/\(member)") {
                throw check.invalid("/\(member)", "unexpected data at the top level of a Keras 3 weights file (it holds layers, optimizer and vars, and CNNKit's cnnkit)")
            }
        }
    }

    // MARK: Optimizer

    /// A Keras file's training state (without its slots, which go to `slots`, located) from a `compile_config`
    /// optimizer and `/optimizer/vars`.
    private func kerasState(architecture: Architecture, optimizer: OptimizerConfig, slots: inout [HDF5ModelLayout.Located]) throws -> TrainingState? {
        var config = optimizer
        var step = 0
        if let read = try locateOptimizer(architecture: architecture, optimizer: optimizer) {
            (step, slots, config.learningRate) = (read.step, read.slots, read.learningRate)
        }
        let seed: UInt64 = 0
        return TrainingState(step: step, batchSize: 32, optimizer: config, slots: [], rngState: RandomGenerator(seed: seed).state, seed: seed)
    }

    /// Reads `/optimizer/vars` (`0` iteration, `1` learning rate) and locates the slots, or nil when it is absent.
    private func locateOptimizer(architecture: Architecture, optimizer: OptimizerConfig) throws
        -> (step: Int, learningRate: Float, slots: [HDF5ModelLayout.Located])? {
        let base = "/\(KerasWeightsLayout.optimizer)"
        guard try source.exists(root, KerasWeightsLayout.optimizer, path: base) else { return nil }
        let path = "\(base)/\(KerasWeightsLayout.vars)"
        let vars = try source.openGroup(root, "\(KerasWeightsLayout.optimizer)/\(KerasWeightsLayout.vars)", base: "/")
        var expected: [(name: String, shape: [Int])] = []
        for spec in try architecture.parameterSpecs() {
            for slot in optimizer.slotNames { expected.append((TrainingState.slotName(parameter: spec.name, slot: slot), spec.shape)) }
        }
        let count = try source.memberNames(vars, path: path).count
        guard count == expected.count + 2 else {
            throw check.invalid(path, "\(optimizer.kind.rawValue) with slots \(optimizer.slotNames) needs iteration, learning_rate and \(expected.count) slot(s), the file holds \(count) variable(s)")
        }
        let iteration = try source.readInteger(vars, "0", base: path)
        guard iteration >= 0, let step = Int(exactly: iteration) else { throw check.invalid("\(path)/0", "iteration \(iteration) is negative") }
        let learningRate = try source.readScalarFloat(vars, "1", base: path)
        var slots: [HDF5ModelLayout.Located] = []
        for (offset, entry) in expected.enumerated() {
            let name = String(offset + 2)
            let found = try shape(vars, name, base: path)
            guard found == entry.shape else {
                throw check.invalid("\(path)/\(name)", "optimizer slot \(entry.name): the architecture needs shape \(entry.shape), the file holds \(found)")
            }
            slots.append(HDF5ModelLayout.Located(descriptor: TensorDescriptor(name: entry.name, shape: entry.shape), path: "\(path.dropFirst())/\(name)"))
        }
        return (step, learningRate, slots)
    }
}

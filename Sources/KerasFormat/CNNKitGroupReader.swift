import ConvNet
import Foundation
import HDF5Format
import ModelArchive

/// Reads the `/cnnkit` group (`Schemas/hdf5-layout.md` §3): our architecture JSON, the training state's scalars
/// and history, probes and metadata. Shared by the legacy full-model reader and the Keras 3 weights reader; the
/// caller supplies the optimizer slots, which live in its own Keras part.
struct CNNKitGroupReader {
    let source: HDF5Source
    var check: HDF5Checker { source.check }

    /// `/cnnkit`.
    static let base = "/\(HDF5Layout.cnnkit)"

    /// Whether the file has a `/cnnkit` group (a hard link; other links are refused).
    func exists(_ root: HDF5Handle) throws -> Bool {
        try source.exists(root, HDF5Layout.cnnkit, path: Self.base)
    }

    /// Opens `/cnnkit` and checks `@format_version`.
    ///
    /// - Throws: ``HDF5Error/unsupported(file:location:reason:)`` for another format version.
    func openGroup(_ root: HDF5Handle) throws -> HDF5Handle {
        let base = Self.base
        let group = try source.openGroup(root, HDF5Layout.cnnkit, base: "/")
        guard let version = try source.integer(group, "format_version", path: base) else {
            throw check.invalid("\(base)@format_version", "missing")
        }
        guard version == HDF5Layout.formatVersion else {
            throw check.unsupported("\(base)@format_version", "version \(version) (this build reads \(HDF5Layout.formatVersion))")
        }
        return group
    }

    /// The architecture in `/cnnkit@architecture`.
    func architecture(_ group: HDF5Handle) throws -> Architecture {
        let base = Self.base
        guard let json = try source.string(group, "architecture", path: base) else { throw check.invalid("\(base)@architecture", "missing") }
        do {
            return try Architecture.decode(json: Data(json.utf8))
        } catch {
            throw check.invalid("\(base)@architecture", "\(error)")
        }
    }

    /// The training state in `/cnnkit/training`, or nil when the group is absent.
    ///
    /// - Parameter slots: reads the optimizer slot tensors for the state's optimizer from the Keras part.
    func trainingState(_ parent: HDF5Handle, slots: (OptimizerConfig) throws -> [NamedTensor]) throws -> TrainingState? {
        let path = "\(Self.base)/\(HDF5Layout.training)"
        guard try source.exists(parent, HDF5Layout.training, path: path) else { return nil }
        let group = try source.openGroup(parent, HDF5Layout.training, base: Self.base)
        guard let json = try source.string(group, "state", path: path) else { throw check.invalid("\(path)@state", "missing") }
        var state: TrainingState
        do {
            state = try ArchiveJSON.decoder().decode(TrainingState.self, from: Data(json.utf8))
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
        try checkMirrors(group, of: state, path: path)
        state.slots = try slots(state.optimizer)
        return state
    }

    /// The mirrors of `@state` written for h5py users (`@seed`, `@epoch`, `@step`, the dataset attributes, the
    /// `rng_state` dataset) must say what `@state` says. The digest of the training state covers `@state` only,
    /// so a mirror changed after saving would pass `verify` while h5py users read the changed value. A missing
    /// mirror is accepted: nothing reads it.
    private func checkMirrors(_ group: HDF5Handle, of state: TrainingState, path: String) throws {
        func differ(_ name: String, _ found: String, _ recorded: String) -> HDF5Error {
            check.invalid("\(path)\(name)", "\(found) differs from \(recorded) in \(path)@state (the file was changed after it was saved)")
        }
        if let seed = try source.unsignedInteger(group, "seed", path: path), seed != state.seed {
            throw differ("@seed", "\(seed)", "the seed \(state.seed)")
        }
        if let epoch = try source.integer(group, "epoch", path: path), epoch != Int64(state.epoch) {
            throw differ("@epoch", "\(epoch)", "the epoch \(state.epoch)")
        }
        if let step = try source.integer(group, "step", path: path), step != Int64(state.step) {
            throw differ("@step", "\(step)", "the step \(state.step)")
        }
        let name = try source.string(group, "dataset_name", path: path)
        let fingerprint = try source.string(group, "dataset_fingerprint", path: path)
        let trainCount = try source.integer(group, "dataset_train_count", path: path)
        if let name, name != state.dataset?.name { throw differ("@dataset_name", "'\(name)'", "the dataset name \(state.dataset.map { "'\($0.name)'" } ?? "none")") }
        if let fingerprint, fingerprint != state.dataset?.fingerprint {
            throw differ("@dataset_fingerprint", "'\(fingerprint)'", "the fingerprint \(state.dataset.map { "'\($0.fingerprint)'" } ?? "none")")
        }
        if let trainCount, trainCount != state.dataset.map({ Int64($0.trainCount) }) {
            throw differ("@dataset_train_count", "\(trainCount)", "the train count \(state.dataset.map { "\($0.trainCount)" } ?? "none")")
        }
        if try source.exists(group, "rng_state", path: "\(path)/rng_state") {
            let rng = try source.readUInt64s(group, "rng_state", base: path)
            guard rng == state.rngState else { throw differ("/rng_state", "\(rng)", "the RNG state \(state.rngState)") }
        }
    }

    /// Keras' own copy of the step and learning rate in its optimizer variables (`iteration`, `learning_rate`:
    /// what Keras resumes from) must be the training state's, as the writers write them (the step clamped to
    /// int32); like the mirrors, they are covered by no digest of their own.
    func checkKerasCopy(_ copy: (step: Int, learningRate: Float), of state: TrainingState, at location: String) throws {
        guard copy.step == Int(Int32(clamping: state.step)) else {
            throw check.invalid(location, "Keras' iteration \(copy.step) differs from the step \(state.step) in \(Self.base)/\(HDF5Layout.training)@state (the file was changed after it was saved)")
        }
        guard copy.learningRate.bitPattern == state.optimizer.learningRate.bitPattern else {
            throw check.invalid(location, "Keras' learning_rate \(copy.learningRate) differs from the learning rate \(state.optimizer.learningRate) in \(Self.base)/\(HDF5Layout.training)@state (the file was changed after it was saved)")
        }
    }

    /// The probes in `/cnnkit/probes`, or nil when the group is absent.
    func probes(_ parent: HDF5Handle, architecture: Architecture) throws -> Probes? {
        let base = "\(Self.base)/\(HDF5Layout.probes)"
        guard try source.exists(parent, HDF5Layout.probes, path: base) else { return nil }
        let group = try source.openGroup(parent, HDF5Layout.probes, base: Self.base)
        let input = architecture.input
        let inputs = try source.readFloats(group, "inputs", base: base)
        guard inputs.shape.count == 4, Array(inputs.shape.dropFirst()) == [input.height, input.width, input.channels] else {
            throw check.invalid("\(base)/inputs", "expected shape [n, \(input.height), \(input.width), \(input.channels)], found \(inputs.shape)")
        }
        let outputCount = try architecture.outputShape().count
        let outputs = try source.readFloats(group, "outputs", base: base, expected: [inputs.shape[0], outputCount])
        return Probes(inputs: inputs, outputs: outputs, source: try source.string(group, "source", path: base) ?? "")
    }

    /// The string metadata in `/cnnkit/metadata` (one attribute per key), empty when the group is absent.
    func metadata(_ parent: HDF5Handle) throws -> [String: String] {
        let path = "\(Self.base)/\(HDF5Layout.metadata)"
        guard try source.exists(parent, HDF5Layout.metadata, path: path) else { return [:] }
        let group = try source.openGroup(parent, HDF5Layout.metadata, base: Self.base)
        var metadata: [String: String] = [:]
        try source.forEachAttributeName(group, path: path) { key in
            metadata[key] = try source.string(group, key, path: path) ?? ""
        }
        return metadata
    }
}

/// Settings a user gives for a training run; nil means "the default, or what the resumed model had".
public struct TrainingOverrides: Sendable, Hashable {
    /// `--optimizer`.
    public var optimizer: OptimizerKind?
    /// `--lr`.
    public var learningRate: Float?
    /// `--momentum`.
    public var momentum: Float?
    /// `--nesterov`.
    public var nesterov: Bool
    /// `--batch-size`.
    public var batchSize: Int?
    /// `--seed`.
    public var seed: UInt64

    /// Overrides; nil keeps the default or the resumed value.
    public init(optimizer: OptimizerKind? = nil, learningRate: Float? = nil, momentum: Float? = nil, nesterov: Bool = false,
                batchSize: Int? = nil, seed: UInt64 = 0) {
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.batchSize = batchSize
        self.seed = seed
    }

    /// Refuses settings the optimizer `kind` would ignore: momentum and Nesterov are SGD's.
    ///
    /// - Throws: ``ConvNetError/invalidTrainingConfiguration(reason:)``.
    public func check(for kind: OptimizerKind) throws {
        guard kind == .adam else { return }
        let given = [momentum.map { "--momentum \($0)" }, nesterov ? "--nesterov" : nil].compactMap { $0 }
        guard given.isEmpty else {
            throw ConvNetError.invalidTrainingConfiguration(
                reason: "\(given.joined(separator: " and ")) \(given.count == 1 ? "is an SGD setting" : "are SGD settings"); the adam optimizer has none (it adapts its steps itself)")
        }
    }

    /// The optimizer for a fresh run: SGD unless told, learning rate 0.005 for SGD and 0.001 for Adam unless told.
    public var freshOptimizer: OptimizerConfig {
        let kind = optimizer ?? .sgd
        return OptimizerConfig(kind: kind, learningRate: learningRate ?? (kind == .adam ? 0.001 : 0.005), momentum: momentum ?? 0, nesterov: nesterov)
    }
}

extension Trainer {
    /// A trainer for a fresh network of `architecture`, initialised the seed's way from `overrides.seed`.
    ///
    /// - Throws: ``ConvNetError/invalidArchitecture(layer:reason:)`` or
    ///   ``ConvNetError/invalidTrainingConfiguration(reason:)``.
    public init(architecture: Architecture, overrides: TrainingOverrides, dataset: DatasetIdentity?, threads: Int = 1) throws {
        try overrides.check(for: overrides.freshOptimizer.kind)
        try self.init(architecture: architecture, optimizer: overrides.freshOptimizer, batchSize: overrides.batchSize ?? 1,
                      seed: overrides.seed, threads: threads)
        state.dataset = dataset
    }

    /// A trainer that continues a saved model, the rules of resuming applied in one place:
    ///
    /// - with a saved training state, its optimizer, slots, counters, RNG and history continue; a different
    ///   optimizer kind is refused (its slots cannot be reused); a learning rate, momentum or Nesterov given
    ///   now replaces the saved one; a new batch size is taken only at an epoch boundary;
    /// - training on other data than the state records is refused mid-epoch, and at an epoch boundary
    ///   continues on the new data with `warning` called (the result is then not the uninterrupted run);
    /// - a model without training state (weights only) starts a fresh state from `overrides`.
    ///
    /// Resumed with the same data and no overrides, training gives bitwise the weights of a run that was never
    /// interrupted.
    ///
    /// - Throws: ``ConvNetError/invalidTrainingConfiguration(reason:)`` for a different optimizer kind or
    ///   momentum given for Adam,
    ///   ``ConvNetError/incompatibleTrainingState(reason:)`` for a batch size or data change mid-epoch.
    public init(resuming network: Network, state saved: TrainingState?, overrides: TrainingOverrides, dataset: DatasetIdentity,
                threads: Int = 1, warning: (String) -> Void = { _ in }) throws {
        guard let saved else {
            try overrides.check(for: overrides.freshOptimizer.kind)
            let state = TrainingState(batchSize: overrides.batchSize ?? 1, optimizer: overrides.freshOptimizer,
                                      rngState: RandomGenerator(seed: overrides.seed).state, seed: overrides.seed, dataset: dataset)
            try self.init(network: network, state: state, threads: threads)
            return
        }
        var state = saved
        if let kind = overrides.optimizer, kind != saved.optimizer.kind {
            throw ConvNetError.invalidTrainingConfiguration(
                reason: "--optimizer \(kind.rawValue) differs from the saved \(saved.optimizer.kind.rawValue) optimizer, whose slots cannot be reused")
        }
        try overrides.check(for: saved.optimizer.kind)
        if let lr = overrides.learningRate { state.optimizer.learningRate = lr }
        if let momentum = overrides.momentum { state.optimizer.momentum = momentum }
        if overrides.nesterov { state.optimizer.nesterov = true }
        if let batchSize = overrides.batchSize, batchSize != saved.batchSize {
            guard saved.position == 0 else {
                throw ConvNetError.incompatibleTrainingState(reason: "the model was saved mid-epoch with batch size \(saved.batchSize); resume with the same batch size")
            }
            state.batchSize = batchSize
        }
        if let savedData = saved.dataset, savedData != dataset {
            let what = "the model was trained on other data (\(savedData.trainCount) examples, fingerprint \(savedData.fingerprint)) than given now (\(dataset.trainCount), \(dataset.fingerprint))"
            guard saved.position == 0 else {
                throw ConvNetError.incompatibleTrainingState(reason: "\(what) and saved mid-epoch; resume on the same data and --limit")
            }
            warning("\(what); training continues on the new data, so the result is not the uninterrupted run")
        }
        state.dataset = dataset
        try self.init(network: network, state: state, threads: threads)
    }
}

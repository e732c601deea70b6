/// One finished epoch's figures.
public struct EpochRecord: Codable, Sendable, Hashable {
    /// Mean training loss of the epoch.
    public var loss: Double
    /// Fraction of the epoch's examples predicted right as they were trained on.
    public var trainAccuracy: Double
    /// Nil when no test set was given.
    public var testAccuracy: Double?

    /// An epoch's figures.
    public init(loss: Double, trainAccuracy: Double, testAccuracy: Double?) {
        self.loss = loss
        self.trainAccuracy = trainAccuracy
        self.testAccuracy = testAccuracy
    }
}

/// One point of the finer training curve: the epoch's running loss and accuracy after a step.
///
/// The trainer records one every ``Trainer/curveInterval(epochSize:batchSize:)`` steps of an epoch and at its
/// last step, so a one-epoch run still has a curve. The point at an epoch's last step has exactly the loss and
/// train accuracy of that epoch's ``EpochRecord``.
public struct CurvePoint: Codable, Sendable, Hashable {
    /// Optimizer steps taken in all, this one included.
    public var step: Int
    /// The epoch the step belongs to, counted from 1.
    public var epoch: Int
    /// Examples of that epoch consumed so far.
    public var examples: Int
    /// Mean loss of those examples.
    public var loss: Double
    /// Fraction of those examples predicted right.
    public var accuracy: Double
}

/// Which data a model was trained on, so that a resume can refuse other data.
public struct DatasetIdentity: Codable, Sendable, Hashable {
    /// A short name, such as `fashion-mnist`.
    public var name: String
    /// The number of training examples used (after `--limit`).
    public var trainCount: Int
    /// FNV-1a 64 of the training images and labels used, in file order, as 16 hex digits.
    public var fingerprint: String

    /// A data identity.
    public init(name: String, trainCount: Int, fingerprint: String) {
        self.name = name
        self.trainCount = trainCount
        self.fingerprint = fingerprint
    }
}

/// Everything needed to resume training bitwise: counters, the optimizer and its slots, the RNG, history.
///
/// The RNG state is the one at the start of the current epoch, before its shuffle: a resume redraws the same
/// permutation and continues at ``position``. The running sums of the unfinished epoch are kept so that its
/// history entry comes out the same.
public struct TrainingState: Sendable, Hashable {
    /// Completed epochs.
    public var epoch: Int
    /// Optimizer steps taken in all (Keras' `iterations`).
    public var step: Int
    /// Examples consumed in the current, unfinished epoch.
    public var position: Int
    /// Examples per optimizer step.
    public var batchSize: Int
    /// The optimizer and its settings.
    public var optimizer: OptimizerConfig
    /// Optimizer slot tensors in the exchange layout, named `optimizer.<parameter>.<slot>` (slot: `momentum`,
    /// `velocity`), in parameter order then slot order.
    public var slots: [NamedTensor]
    /// The RNG state at the start of the current epoch.
    public var rngState: [UInt64]
    /// The seed training started from.
    public var seed: UInt64
    /// One record per finished epoch.
    public var history: [EpochRecord]
    /// The finer curve, a point every few steps (``CurvePoint``); empty in files written before it existed.
    public var curve: [CurvePoint]
    /// The training data, so that a resume can refuse other data.
    public var dataset: DatasetIdentity?
    /// Sum of per-example losses in the unfinished epoch (float64, summed in example order).
    public var epochLossSum: Double
    /// Correct predictions in the unfinished epoch.
    public var epochCorrect: Int

    /// A state from its parts; a fresh run's counters are 0.
    public init(epoch: Int = 0, step: Int = 0, position: Int = 0, batchSize: Int, optimizer: OptimizerConfig,
                slots: [NamedTensor] = [], rngState: [UInt64], seed: UInt64, history: [EpochRecord] = [],
                curve: [CurvePoint] = [], dataset: DatasetIdentity? = nil, epochLossSum: Double = 0, epochCorrect: Int = 0) {
        self.epoch = epoch
        self.step = step
        self.position = position
        self.batchSize = batchSize
        self.optimizer = optimizer
        self.slots = slots
        self.rngState = rngState
        self.seed = seed
        self.history = history
        self.curve = curve
        self.dataset = dataset
        self.epochLossSum = epochLossSum
        self.epochCorrect = epochCorrect
    }

    /// The name of one optimizer slot tensor.
    public static func slotName(parameter: String, slot: String) -> String { "optimizer.\(parameter).\(slot)" }
}

extension TrainingState: Codable {
    /// The scalar part as JSON; ``slots`` are tensors and travel separately (formats store them as tensors).
    private enum CodingKeys: String, CodingKey {
        case epoch, step, position, batchSize = "batch_size", optimizer, rngState = "rng_state", seed, history, curve, dataset,
             epochLossSum = "epoch_loss_sum", epochCorrect = "epoch_correct"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(epoch: try c.decode(Int.self, forKey: .epoch), step: try c.decode(Int.self, forKey: .step),
                  position: try c.decode(Int.self, forKey: .position), batchSize: try c.decode(Int.self, forKey: .batchSize),
                  optimizer: try c.decode(OptimizerConfig.self, forKey: .optimizer), slots: [],
                  rngState: try TrainingState.decodeHexWords(c, key: .rngState), seed: try c.decode(UInt64.self, forKey: .seed),
                  history: try c.decode([EpochRecord].self, forKey: .history),
                  curve: try c.decodeIfPresent([CurvePoint].self, forKey: .curve) ?? [],
                  dataset: try c.decodeIfPresent(DatasetIdentity.self, forKey: .dataset),
                  epochLossSum: try c.decode(Double.self, forKey: .epochLossSum), epochCorrect: try c.decode(Int.self, forKey: .epochCorrect))
    }

    private static func decodeHexWords(_ c: KeyedDecodingContainer<CodingKeys>, key: CodingKeys) throws -> [UInt64] {
        try c.decode([String].self, forKey: key).map { text in
            guard let word = UInt64(text, radix: 16) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "'\(text)' is not a 64-bit hex word")
            }
            return word
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(epoch, forKey: .epoch)
        try c.encode(step, forKey: .step)
        try c.encode(position, forKey: .position)
        try c.encode(batchSize, forKey: .batchSize)
        try c.encode(optimizer, forKey: .optimizer)
        // Hex strings: JSON numbers above 2^53 do not survive every JSON reader.
        try c.encode(rngState.map { String($0, radix: 16) }, forKey: .rngState)
        try c.encode(seed, forKey: .seed)
        try c.encode(history, forKey: .history)
        // Absent when empty: a state without curve points keeps the bytes it had before curves existed.
        if !curve.isEmpty { try c.encode(curve, forKey: .curve) }
        try c.encodeIfPresent(dataset, forKey: .dataset)
        try c.encode(epochLossSum, forKey: .epochLossSum)
        try c.encode(epochCorrect, forKey: .epochCorrect)
    }
}

/// What the trainer reports after each optimizer step and each epoch.
public struct TrainingProgress: Sendable {
    /// Finished epochs.
    public var epoch: Int
    /// The epochs to reach.
    public var totalEpochs: Int
    /// Examples of the current epoch consumed.
    public var position: Int
    /// Examples per epoch.
    public var epochSize: Int
    /// Optimizer steps taken in all.
    public var step: Int
    /// Mean loss so far in this epoch.
    public var runningLoss: Double
    /// Fraction predicted right so far in this epoch.
    public var runningAccuracy: Double
}

/// What a training run may ask its caller between steps.
public enum TrainingControl: Sendable {
    case proceed
    /// Stop after this step; the state is consistent and can be saved and resumed.
    case stop
}

/// Trains a network with minibatch gradient descent, deterministically.
///
/// Each epoch draws a permutation of the training set from the state's RNG (Fisher-Yates), walks it in batches
/// of ``TrainingState/batchSize`` (the last batch may be smaller) and applies one optimizer step per batch on the
/// mean softmax cross-entropy. A batch is cut into groups of ``groupSize`` consecutive examples; each group's
/// gradient is summed in example order, and the groups are summed in order, so the weights are bitwise the same
/// for any number of threads.
public struct Trainer: Sendable {
    /// Examples per gradient group; fixed so that the reduction order never depends on the thread count.
    public static let groupSize = 4

    /// About this many curve points are recorded per epoch (``TrainingState/curve``).
    public static let curvePointsPerEpoch = 50

    /// Steps between two curve points: an epoch of `epochSize` examples in batches of `batchSize` gets about
    /// ``curvePointsPerEpoch`` points, plus one at its last step. It depends only on the data size and batch
    /// size, which a resume keeps, so a resumed run records the same points as an uninterrupted one.
    public static func curveInterval(epochSize: Int, batchSize: Int) -> Int {
        let steps = (epochSize + batchSize - 1) / max(batchSize, 1)
        return max(1, steps / curvePointsPerEpoch)
    }

    /// The network being trained (the last finished step's weights).
    public var network: Network
    /// Counters, optimizer slots, RNG and history.
    public var state: TrainingState
    /// Worker threads for the batch (1 or more).
    public var threads: Int

    /// Resumes from a network and its state.
    ///
    /// - Throws: ``ConvNetError/incompatibleTrainingState(reason:)`` when the slots do not fit the network.
    public init(network: Network, state: TrainingState, threads: Int = 1) throws {
        guard network.endsWithSoftmax else {
            throw ConvNetError.invalidTrainingConfiguration(reason: "training needs an architecture whose last layer is softmax")
        }
        try state.optimizer.validate()
        guard state.batchSize > 0 else { throw ConvNetError.invalidTrainingConfiguration(reason: "batch size must be positive, found \(state.batchSize)") }
        _ = try RandomGenerator(state: state.rngState)
        self.network = network
        self.state = state
        self.threads = max(1, threads)
        _ = try slotBuffers()
    }

    /// Starts from scratch: seeds the RNG, initialises the weights the seed's way, and keeps the RNG (advanced
    /// past the initial draws) for shuffling.
    public init(architecture: Architecture, optimizer: OptimizerConfig, batchSize: Int, seed: UInt64, threads: Int = 1) throws {
        var network = try Network(architecture: architecture)
        var rng = RandomGenerator(seed: seed)
        network.initialize(using: &rng)
        let state = TrainingState(batchSize: batchSize, optimizer: optimizer,
                                  slots: Trainer.zeroSlots(network: network, optimizer: optimizer), rngState: rng.state, seed: seed)
        try self.init(network: network, state: state, threads: threads)
    }

    static func zeroSlots(network: Network, optimizer: OptimizerConfig) -> [NamedTensor] {
        var slots: [NamedTensor] = []
        for p in network.parameters {
            for s in optimizer.slotNames {
                slots.append(NamedTensor(name: TrainingState.slotName(parameter: p.name, slot: s), tensor: Tensor(zeros: p.tensor.shape)))
            }
        }
        return slots
    }

    /// The slot tensors as flat internal buffers, one per slot name (zeros when the state has none yet).
    func slotBuffers() throws -> [[Float]] {
        try state.optimizer.slotNames.map { slot in
            let suffix = ".\(slot)"
            let given = state.slots.filter { $0.name.hasPrefix("optimizer.") && $0.name.hasSuffix(suffix) }
            if given.isEmpty { return [Float](repeating: 0, count: network.flatParameters.count) }
            let renamed = given.map { NamedTensor(name: String($0.name.dropFirst("optimizer.".count).dropLast(suffix.count)), tensor: $0.tensor) }
            do {
                return try network.flatBuffer(from: renamed)
            } catch {
                throw ConvNetError.incompatibleTrainingState(reason: "optimizer slot '\(slot)': \(error)")
            }
        }
    }

    /// A copy of the network and state as they are during ``train(on:test:epochs:control:epochEnd:)``.
    public struct Snapshot: Sendable {
        /// The network being trained (the last finished step's weights).
        public var network: Network
        /// Counters, optimizer slots, RNG and history.
        public var state: TrainingState

        /// A snapshot.
        public init(network: Network, state: TrainingState) {
            self.network = network
            self.state = state
        }
    }

    /// Time spent evaluating the test set at epoch ends (so callers can report pure training throughput).
    public private(set) var evaluationTime: Duration = .zero

    /// Trains until `epochs` epochs are complete (a total, as Keras' `epochs` with `initial_epoch`).
    ///
    /// - Parameters:
    ///   - data: the training set; must be the one the state was started with when resuming mid-epoch.
    ///   - epochs: the total number of epochs to reach, finished ones included.
    ///   - test: evaluated at the end of each epoch for the history, when given.
    ///   - control: called after every step with the progress and a function that makes a snapshot (a
    ///     consistent, resumable copy, built only when called); return ``TrainingControl/stop`` to stop.
    ///   - epochEnd: called after each finished epoch with its record and a snapshot.
    /// - Returns: true when all epochs finished, false when stopped early. Either way ``network`` and ``state``
    ///   hold the last finished step.
    /// - Throws: ``ConvNetError/diverged(step:epoch:examples:epochSize:what:)`` when a step's loss is NaN or
    ///   infinite (that step is not applied; ``network`` and ``state`` hold the step before it), or what
    ///   `control` and `epochEnd` throw.
    @discardableResult
    public mutating func train(on data: Dataset, test: Dataset? = nil, epochs: Int,
                               control: (TrainingProgress, () -> Snapshot) throws -> TrainingControl = { _, _ in .proceed },
                               epochEnd: (EpochRecord, Snapshot) throws -> Void = { _, _ in }) throws -> Bool {
        guard data.imageSize == network.inputCount else {
            throw ConvNetError.shapeMismatch(name: "training images", expected: network.shapes[0].dimensions, found: [data.height, data.width, data.channels])
        }
        guard data.count > 0 else { throw ConvNetError.invalidTrainingConfiguration(reason: "the training set is empty") }
        guard state.position <= data.count else {
            throw ConvNetError.incompatibleTrainingState(reason: "saved at example \(state.position) of an epoch, but the data has \(data.count)")
        }
        if let labelMax = data.labels.max(), Int(labelMax) >= network.outputCount {
            throw ConvNetError.invalidTrainingConfiguration(reason: "label \(labelMax) is out of range for \(network.outputCount) outputs")
        }
        let net = network
        let paramCount = net.flatParameters.count
        let weights = FloatPointer.allocate(capacity: max(paramCount, 1))
        weights.initialize(from: net.flatParameters, count: paramCount)
        let slots: [FloatPointer] = try slotBuffers().map { flat in
            let p = FloatPointer.allocate(capacity: max(paramCount, 1))
            p.initialize(from: flat, count: paramCount)
            return p
        }
        func snapshot() -> Snapshot {
            var n = net
            n.flatParameters = Array(UnsafeBufferPointer(start: weights, count: paramCount))
            var s = state
            s.slots = Trainer.exportSlots(network: n, optimizer: s.optimizer,
                                          buffers: slots.map { Array(UnsafeBufferPointer(start: $0, count: paramCount)) })
            return Snapshot(network: n, state: s)
        }
        defer {
            // Whatever happens, the network and state hold the latest finished step.
            let last = snapshot()
            network = last.network
            state = last.state
            weights.deallocate()
            slots.forEach { $0.deallocate() }
        }
        let n = data.count, batchSize = state.batchSize, inputCount = net.inputCount, outputIndex = net.operations.count
        let maxGroups = (batchSize + Trainer.groupSize - 1) / Trainer.groupSize
        let workers = max(1, min(threads, maxGroups))
        let workspaces = (0..<workers).map { _ in Workspace(network: net) }
        let groupGradients = (0..<maxGroups).map { _ in FloatPointer.allocate(capacity: max(paramCount, 1)) }
        defer { groupGradients.forEach { $0.deallocate() } }
        let curveEvery = Trainer.curveInterval(epochSize: n, batchSize: batchSize)
        let losses = FloatPointer.allocate(capacity: batchSize)
        let correct = UnsafeMutablePointer<Bool>.allocate(capacity: batchSize)
        defer { losses.deallocate(); correct.deallocate() }

        try data.images.withUnsafeBufferPointer { imageBuffer in
            let images = imageBuffer.baseAddress!
            while state.epoch < epochs {
                var rng = try RandomGenerator(state: state.rngState)
                var order = Array(0..<n)
                rng.shuffle(&order)
                while state.position < n {
                    let start = state.position, count = min(batchSize, n - start)
                    let groups = (count + Trainer.groupSize - 1) / Trainer.groupSize
                    let scale = 1 / Float(count)
                    let active = min(workers, groups)
                    let shared = UncheckedSendable((order, images, losses, correct, weights))
                    runTasks(groups, workers: active) { worker, g in
                        let (order, images, losses, correct, weights) = shared.value
                        let ws = workspaces[worker]
                        let gradient = groupGradients[g]
                        gradient.update(repeating: 0, count: paramCount)
                        for k in (g * Trainer.groupSize)..<min((g + 1) * Trainer.groupSize, count) {
                            let example = order[start + k]
                            let label = Int(data.labels[example])
                            net.loadInput(images + example * inputCount, into: ws)
                            net.forward(ws, parameters: weights)
                            losses[k] = net.loss(ws, label: label)
                            correct[k] = net.labels(fromPointer: ws.activations[outputIndex]) == label
                            net.backward(ws, label: label, scale: scale, parameters: weights, gradient: gradient)
                        }
                    }
                    // A non-finite loss means the weights are already unusable: stop before the step is applied, so
                    // that ``network`` and ``state`` keep the last finished step (what a checkpoint would hold).
                    for k in 0..<count where !losses[k].isFinite {
                        throw ConvNetError.diverged(step: state.step + 1, epoch: state.epoch + 1, examples: (start + 1)...(start + count),
                                                    epochSize: n, what: "the loss is not finite (\(losses[k].isNaN ? "NaN" : losses[k] > 0 ? "infinity" : "-infinity"))")
                    }
                    let total = groupGradients[0]
                    for g in 1..<groups {
                        add(paramCount, groupGradients[g], into: total)
                    }
                    state.optimizer.apply(step: state.step, count: paramCount, weights: weights, gradient: total, slots: slots)
                    for k in 0..<count {
                        state.epochLossSum += Double(losses[k])
                        if correct[k] { state.epochCorrect += 1 }
                    }
                    state.step += 1
                    state.position += count
                    let epochStep = (state.position + batchSize - 1) / batchSize
                    if epochStep % curveEvery == 0 || state.position == n {
                        state.curve.append(CurvePoint(step: state.step, epoch: state.epoch + 1, examples: state.position,
                                                      loss: state.epochLossSum / Double(state.position),
                                                      accuracy: Double(state.epochCorrect) / Double(state.position)))
                    }
                    let progress = TrainingProgress(epoch: state.epoch, totalEpochs: epochs, position: state.position, epochSize: n, step: state.step,
                                                    runningLoss: state.epochLossSum / Double(state.position),
                                                    runningAccuracy: Double(state.epochCorrect) / Double(state.position))
                    if try control(progress, snapshot) == .stop { return }
                }
                var record = EpochRecord(loss: state.epochLossSum / Double(n), trainAccuracy: Double(state.epochCorrect) / Double(n), testAccuracy: nil)
                state.epoch += 1
                state.position = 0
                state.epochLossSum = 0
                state.epochCorrect = 0
                state.rngState = rng.state
                if let test {
                    let clock = ContinuousClock(), started = clock.now
                    defer { evaluationTime += clock.now - started }
                    var evaluated = net
                    evaluated.flatParameters = Array(UnsafeBufferPointer(start: weights, count: paramCount))
                    record.testAccuracy = try evaluated.accuracy(on: test, threads: threads)
                }
                state.history.append(record)
                try epochEnd(record, snapshot())
            }
        }
        return state.epoch >= epochs
    }

    /// The optimizer slots as exchange-layout tensors: parameter order, then slot order within a parameter.
    static func exportSlots(network: Network, optimizer: OptimizerConfig, buffers: [[Float]]) -> [NamedTensor] {
        let bySlot: [[NamedTensor]] = zip(optimizer.slotNames, buffers).map { slot, flat in
            network.exchangeTensors(from: flat).map { NamedTensor(name: TrainingState.slotName(parameter: $0.name, slot: slot), tensor: $0.tensor) }
        }
        return network.slots.indices.flatMap { i in bySlot.map { $0[i] } }
    }
}

extension Network {
    @inline(__always)
    func labels(fromPointer p: FloatPointer) -> Int {
        var best = 0
        for i in 1..<max(outputCount, 1) where p[i] > p[best] { best = i }
        return best
    }
}

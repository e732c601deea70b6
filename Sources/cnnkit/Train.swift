import ArgumentParser
import ConvNet
import Datasets
import Foundation
import ModelArchive
import ModelFiles
import Verification

extension OptimizerKind: ExpressibleByArgument {}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a network on Fashion-MNIST (or any IDX data set of the same layout).",
        discussion: """
        Starts from the seed initialisation, or continues a saved model with --resume (then --epochs is the \
        total to reach). Ctrl-C finishes the current step, saves a checkpoint to --out and exits 130.
        """)

    @Option(help: "Folder holding the IDX files.")
    var data: String = FashionMNIST.defaultDirectory

    @Option(help: "'seed' for the default network, or an architecture JSON file (Schemas/architecture.schema.json).")
    var arch: String = "seed"

    @Option(help: "Epochs to reach in total (with --resume, counting the epochs already done); 0 writes the initialised model.")
    var epochs: Int = 1

    @Option(help: "Examples per optimizer step (default 1, or the resumed model's).")
    var batchSize: Int?

    @Option(help: "Learning rate (default 0.005 for SGD, 0.001 for Adam, or the resumed model's).")
    var lr: Float?

    @Option(help: "Optimizer: sgd or adam (default sgd, or the resumed model's).")
    var optimizer: OptimizerKind?

    @Option(help: "SGD momentum (default 0).")
    var momentum: Float?

    @Flag(help: "Use Nesterov momentum with SGD.")
    var nesterov = false

    @Option(help: "Seed for initialisation and shuffling.")
    var seed: UInt64 = 0

    @Option(help: "Use only the first N training and test examples.")
    var limit: Int?

    @OptionGroup var threadsOption: ThreadsOption

    @Option(help: "Continue training from this model file (any readable format).")
    var resume: String?

    @Option(help: "Write the trained model here (format from the extension: .h5, .cnnz, ...).")
    var out: String?

    @Option(help: "Also rewrite --out every N optimizer steps.")
    var checkpointEvery: Int?

    @OptionGroup var output: JSONOption

    func validate() throws {
        guard epochs >= 0 else { throw ValidationError("--epochs must be 0 or more, found \(epochs)") }
        if let batchSize, batchSize <= 0 { throw ValidationError("--batch-size must be positive, found \(batchSize)") }
        if let limit, limit <= 0 { throw ValidationError("--limit must be positive, found \(limit)") }
        if let lr, !(lr.isFinite && lr > 0) { throw ValidationError("--lr must be a positive number, found \(lr)") }
        if let momentum, !(momentum >= 0 && momentum < 1) { throw ValidationError("--momentum must be in [0, 1), found \(momentum)") }
        if let checkpointEvery {
            guard checkpointEvery > 0 else { throw ValidationError("--checkpoint-every must be positive, found \(checkpointEvery)") }
            guard out != nil else { throw ValidationError("--checkpoint-every needs --out FILE to write the checkpoints to") }
        }
        if resume != nil && arch != "seed" { throw ValidationError("--arch cannot be combined with --resume: the model file holds the architecture") }
    }

    func run() throws {
        try reportingErrors {
            try checkInputs(resume, arch == "seed" ? nil : arch)
            let train = try FashionMNIST.load(directory: data, split: .train, limit: limit)
            let test = try FashionMNIST.load(directory: data, split: .test, limit: limit)
            let identity = DatasetIdentity(name: "fashion-mnist", trainCount: train.count, fingerprint: train.fingerprint())
            var trainer = try makeTrainer(identity: identity)
            if let out { try checkWritable(out) }

            let progress = ProgressReporter(quiet: false)
            let probeInputs = Probes.inputs(from: test, count: 8)
            let probeSource = "fashion-mnist:t10k[0..<\(probeInputs.shape[0])]"
            func save(_ snapshot: Trainer.Snapshot) throws {
                guard let out else { return }
                let document = try ModelDocument.recording(network: snapshot.network, probeInputs: probeInputs, source: probeSource,
                                                           trainingState: snapshot.state, metadata: ["created_by": "cnnkit train"])
                try ModelFiles.save(document, to: out)
            }

            installInterruptHandler()
            let clock = ContinuousClock()
            let started = clock.now
            let startStep = trainer.state.step, startPosition = trainer.state.position, startEpoch = trainer.state.epoch
            let finished = try trainer.train(on: train, test: test, epochs: epochs, control: { p, snapshot in
                progress.step(p)
                if interruptRequested.load(ordering: .relaxed) { return .stop }
                if let every = checkpointEvery, p.step % every == 0 { try save(snapshot()) }
                return .proceed
            }, epochEnd: { record, snapshot in
                progress.epochDone(epoch: snapshot.state.epoch, total: epochs, record: record)
            })
            let seconds = (clock.now - started - trainer.evaluationTime).seconds
            let examples = (trainer.state.epoch - startEpoch) * train.count + trainer.state.position - startPosition
            try save(Trainer.Snapshot(network: trainer.network, state: trainer.state))
            let summary = TrainSummary(
                epochs: trainer.state.epoch, steps: trainer.state.step - startStep,
                trainLoss: trainer.state.history.last?.loss, trainAccuracy: trainer.state.history.last?.trainAccuracy,
                testAccuracy: trainer.state.history.last?.testAccuracy,
                imagesPerSecond: seconds > 0 ? Double(examples) / seconds : 0, seconds: seconds, output: out, interrupted: !finished)
            print(output.json ? summary.jsonString() : summary.line())
            if !finished {
                printError(out.map { "interrupted: checkpoint saved to \($0)" } ?? "interrupted (no --out, nothing saved)")
                throw ExitCode(Exit.interrupted)
            }
        }
    }

    /// A fresh trainer, or one resumed from a model file with the flags given overriding its settings
    /// (``Trainer/init(resuming:state:overrides:dataset:threads:warning:)`` holds the rules).
    func makeTrainer(identity: DatasetIdentity) throws -> Trainer {
        let overrides = TrainingOverrides(optimizer: optimizer, learningRate: lr, momentum: momentum, nesterov: nesterov,
                                          batchSize: batchSize, seed: seed)
        guard let resume else {
            return try Trainer(architecture: try loadArchitecture(arch), overrides: overrides, dataset: identity, threads: threadsOption.threads)
        }
        let document = try ModelFiles.load(resume)
        return try Trainer(resuming: try document.network(), state: document.trainingState, overrides: overrides, dataset: identity,
                           threads: threadsOption.threads, warning: { printError("warning: " + $0) })
    }
}

/// Fails early (exit 73), before any work, when `path` cannot be written: anything but a regular file there (a
/// FIFO, device, socket or folder, also at the end of symbolic links) or a folder that does not exist or is not
/// writable (``AtomicFile/checkDestination(_:)`` holds the rules).
func checkWritable(_ path: String) throws {
    let destination = try AtomicFile.checkDestination(path)
    let folder = (destination.target as NSString).deletingLastPathComponent
    let dir = folder.isEmpty ? "." : folder
    guard access(dir, W_OK) == 0 else {
        throw ArchiveError.cannotCreate(path: path, reason: "folder \(dir) is not writable")
    }
}

/// Reads `seed` or an architecture JSON file (a regular file only, ``InputFile``: a FIFO, device or socket is
/// refused with exit 66).
func loadArchitecture(_ argument: String) throws -> Architecture {
    if argument == "seed" { return .seed }
    let data = Data(try InputFile.read(argument))
    do {
        return try Architecture.decode(json: data)
    } catch let error as ConvNetError {
        throw ArchiveError.invalid(path: argument, location: nil, reason: error.description)
    }
}

/// The final line of `cnnkit train`, and its JSON form (`Schemas/train-report.schema.json`).
struct TrainSummary: Encodable {
    var epochs: Int
    var steps: Int
    var trainLoss: Double?
    var trainAccuracy: Double?
    var testAccuracy: Double?
    var imagesPerSecond: Double
    var seconds: Double
    var output: String?
    var interrupted: Bool

    enum CodingKeys: String, CodingKey {
        case epochs, steps, trainLoss = "train_loss", trainAccuracy = "train_accuracy", testAccuracy = "test_accuracy",
             imagesPerSecond = "images_per_second", seconds, output, interrupted
    }

    func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    func line() -> String {
        func pct(_ x: Double?) -> String { x.map { String(format: "%.2f%%", $0 * 100) } ?? "n/a" }
        let loss = trainLoss.map { String(format: "%.4f", $0) } ?? "n/a"
        var s = "epochs \(epochs), train loss \(loss), train accuracy \(pct(trainAccuracy)), test accuracy \(pct(testAccuracy)), "
            + String(format: "%.0f images/s", imagesPerSecond)
        if let output { s += ", saved \(output)" }
        return s
    }
}

extension Duration {
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}

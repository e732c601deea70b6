import ArgumentParser
import ConvNet
import Foundation
import ModelArchive

extension OptimizerKind: ExpressibleByArgument {}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a network on Fashion-MNIST (or any IDX data set of the same layout).")

    @Option(help: "Folder holding the IDX files.")
    var data: String = FashionMNIST.defaultDirectory

    @Option(help: "'seed' for the default network, or an architecture JSON file (Schemas/architecture.schema.json).")
    var arch: String = "seed"

    @Option(help: "Epochs to reach in total (with --resume, counting the epochs already done).")
    var epochs: Int = 1

    @Option(help: "Examples per optimizer step.")
    var batchSize: Int = 1

    @Option(help: "Learning rate.")
    var lr: Float = 0.005

    @Option(help: "Optimizer: sgd or adam.")
    var optimizer: OptimizerKind = .sgd

    @Option(help: "SGD momentum (0 for plain SGD).")
    var momentum: Float = 0

    @Flag(help: "Use Nesterov momentum with SGD.")
    var nesterov = false

    @Option(help: "Seed for initialisation and shuffling.")
    var seed: UInt64 = 0

    @Option(help: "Use only the first N training and test examples.")
    var limit: Int?

    @Option(help: "Worker threads (results do not depend on it).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Print the summary as one JSON object on stdout.")
    var json = false

    func validate() throws {
        guard epochs >= 0 else { throw ValidationError("--epochs must be 0 or more, found \(epochs)") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, found \(batchSize)") }
        guard threads > 0 else { throw ValidationError("--threads must be positive, found \(threads)") }
        if let limit, limit <= 0 { throw ValidationError("--limit must be positive, found \(limit)") }
        guard lr.isFinite, lr > 0 else { throw ValidationError("--lr must be a positive number, found \(lr)") }
    }

    func run() throws {
        try reportingErrors {
            let architecture = try loadArchitecture(arch)
            let train = try FashionMNIST.load(directory: data, split: .train, limit: limit)
            let test = try FashionMNIST.load(directory: data, split: .test, limit: limit)
            let config = OptimizerConfig(kind: optimizer, learningRate: lr, momentum: momentum, nesterov: nesterov)
            var trainer = try Trainer(architecture: architecture, optimizer: config, batchSize: batchSize, seed: seed, threads: threads)
            trainer.state.dataset = DatasetIdentity(name: "fashion-mnist", trainCount: train.count, fingerprint: train.fingerprint())
            let progress = ProgressReporter(quiet: false)
            let clock = ContinuousClock()
            let started = clock.now
            var trained = 0
            try trainer.train(on: train, test: test, epochs: epochs, control: { p, _ in
                trained += 1
                progress.step(p)
                return .proceed
            }, epochEnd: { record, snapshot in
                progress.epochDone(epoch: snapshot.state.epoch, total: epochs, record: record)
            })
            let seconds = (clock.now - started).seconds
            let examples = trainer.state.history.isEmpty ? 0 : train.count * (trainer.state.history.count)
            let summary = TrainSummary(
                epochs: trainer.state.epoch, steps: trainer.state.step,
                trainLoss: trainer.state.history.last?.loss, trainAccuracy: trainer.state.history.last?.trainAccuracy,
                testAccuracy: trainer.state.history.last?.testAccuracy,
                imagesPerSecond: seconds > 0 ? Double(examples) / seconds : 0, seconds: seconds, output: nil)
            _ = trained
            if json {
                print(summary.jsonString())
            } else {
                print(summary.line())
            }
        }
    }
}

/// Reads `seed` or an architecture JSON file.
func loadArchitecture(_ argument: String) throws -> Architecture {
    if argument == "seed" { return .seed }
    guard let data = FileManager.default.contents(atPath: argument) else {
        throw ArchiveError.missingFile(path: argument, reason: "no such file or not readable")
    }
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

    enum CodingKeys: String, CodingKey {
        case epochs, steps, trainLoss = "train_loss", trainAccuracy = "train_accuracy", testAccuracy = "test_accuracy",
             imagesPerSecond = "images_per_second", seconds, output
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

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
        total to reach). Needs --out FILE, or --no-save to train without keeping the model. Everything is \
        checked before the first step, the output too (the initialised model is written to a scratch file \
        beside it and deleted). Ctrl-C (SIGINT) or SIGTERM finishes the current step, saves a checkpoint to \
        --out and exits 130 (SIGINT) or 143 (SIGTERM). A NaN or infinite loss stops training with exit 65; \
        the last checkpoint written stays, and no NaN weights are saved.
        """)

    @Option(help: "Folder holding the IDX files.")
    var data: String = FashionMNIST.defaultDirectory

    @Option(help: "'seed' for the default network, or an architecture JSON file (Schemas/architecture.schema.json).")
    var arch: String = "seed"

    @Option(parsing: .unconditional, help: "Epochs to reach in total (with --resume, counting the epochs already done); 0 writes the initialised model.")
    var epochs: Int = 1

    @Option(parsing: .unconditional, help: "Examples per optimizer step (default 1, or the resumed model's).")
    var batchSize: Int?

    @Option(parsing: .unconditional, help: "Learning rate (default 0.005 for SGD, 0.001 for Adam, or the resumed model's).")
    var lr: Float?

    @Option(help: "Optimizer: sgd or adam (default sgd, or the resumed model's).")
    var optimizer: OptimizerKind?

    @Option(parsing: .unconditional, help: "SGD momentum (default 0; not for Adam).")
    var momentum: Float?

    @Flag(help: "Use Nesterov momentum with SGD.")
    var nesterov = false

    @Option(parsing: .unconditional, help: "Seed for initialisation and shuffling.")
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: "Use only the first N training and test examples.")
    var limit: Int?

    @OptionGroup var threadsOption: ThreadsOption

    @Option(help: "Continue training from this model file (any readable format).")
    var resume: String?

    @Option(help: "Write the trained model here (format from the extension: \(knownExtensions)).")
    var out: String?

    @Flag(help: "Train without saving the model (instead of --out).")
    var noSave = false

    @Option(parsing: .unconditional, help: "Also rewrite --out every N optimizer steps.")
    var checkpointEvery: Int?

    @OptionGroup var compressionOption: CompressionOption

    @OptionGroup var output: JSONOption

    func validate() throws {
        try OptionCheck.atLeast(0, epochs, "--epochs")
        try OptionCheck.atLeast(1, batchSize, "--batch-size")
        try OptionCheck.atLeast(1, limit, "--limit")
        try OptionCheck.atLeast(1, checkpointEvery, "--checkpoint-every")
        if let lr, !(lr.isFinite && lr > 0) { throw ValidationError("--lr must be a positive number, found \(lr)") }
        if let momentum, !(momentum >= 0 && momentum < 1) { throw ValidationError("--momentum must be in [0, 1), found \(momentum)") }
        if resume != nil && arch != "seed" { throw ValidationError("--arch cannot be combined with --resume: the model file holds the architecture") }
        if optimizer == .adam && (momentum != nil || nesterov) {
            throw ValidationError("\(momentum != nil ? "--momentum" : "--nesterov") is an SGD setting; the adam optimizer has none")
        }
        guard let out else {
            if checkpointEvery != nil { throw ValidationError("--checkpoint-every needs --out FILE to write the checkpoints to") }
            if compressionOption.compression != nil || compressionOption.level != nil {
                throw ValidationError("--compression and --level apply to --out FILE, which is not given")
            }
            guard noSave else {
                throw ValidationError("train needs --out FILE to save the model (\(knownExtensions)), or --no-save to train without saving it")
            }
            return
        }
        if noSave { throw ValidationError("--no-save and --out \(out) contradict each other: give one") }
        guard let format = ModelFiles.formatFromExtension(of: out) else {
            throw ValidationError("--out \(out): \(extensionText(out)) does not tell the format; name the file with one of \(knownExtensions)")
        }
        if checkpointEvery != nil && !format.capabilities.trainingState {
            throw ValidationError("--checkpoint-every: \(format.displayName) (--out \(out)) cannot hold a training state, so its checkpoints could not be resumed; checkpoint to \(resumableExtensions) and convert at the end")
        }
        try compressionOption.validate(output: out, to: nil, compressByDefault: false)
    }

    /// The save options of `--out`: uncompressed unless `--compression` asks.
    func saveOptions(_ out: String) throws -> SaveOptions {
        var options = SaveOptions()
        try CompressionOption.apply(compressionOption.compression, level: compressionOption.level, to: &options,
                                    format: ModelFiles.outputFormat(path: out, options: options), output: out, compressByDefault: false)
        return options
    }

    func run() throws {
        try reportingErrors(checking: resume, arch == "seed" ? nil : arch) {
            let train = try FashionMNIST.load(directory: data, split: .train, limit: limit)
            let test = try FashionMNIST.load(directory: data, split: .test, limit: limit)
            let identity = DatasetIdentity(name: "fashion-mnist", trainCount: train.count, fingerprint: train.fingerprint())
            var trainer = try makeTrainer(identity: identity)
            if let resume, epochs < trainer.state.epoch {
                throw CLIError.usage("--epochs \(epochs) is fewer than the \(trainer.state.epoch) epochs \(resume) has done: --epochs is the total to reach, so resuming would train nothing; give --epochs \(trainer.state.epoch + 1) or more")
            }

            let progress = ProgressReporter(quiet: false)
            let probeInputs = Probes.inputs(from: test, count: 8)
            let probeSource = "fashion-mnist:t10k[0..<\(probeInputs.shape[0])]"
            func document(_ snapshot: Trainer.Snapshot) throws -> ModelDocument {
                try ModelDocument.recording(network: snapshot.network, probeInputs: probeInputs, source: probeSource,
                                            trainingState: snapshot.state, metadata: ["created_by": "cnnkit train"])
            }
            let resumable = out.map { ModelFiles.outputFormat(path: $0, options: SaveOptions()).capabilities.trainingState } ?? false
            if let out {
                try checkWritable(out)
                try dryRun(document(Trainer.Snapshot(network: trainer.network, state: trainer.state)), to: out, options: saveOptions(out))
                if !resumable {
                    let name = ModelFiles.outputFormat(path: out, options: SaveOptions()).displayName
                    printError("warning: \(out): \(name) holds no training state, so training cannot resume from it: an interrupted run (Ctrl-C, SIGTERM) saves nothing; write \(resumableExtensions) to keep checkpoints")
                }
            }
            /// The step of the last checkpoint written by this run.
            var lastCheckpoint: Int?
            func save(_ snapshot: Trainer.Snapshot) throws {
                guard let out else { return }
                try requireFinite(snapshot)
                try ModelFiles.save(document(snapshot), to: out, options: saveOptions(out))
            }

            installInterruptHandler()
            let clock = ContinuousClock()
            let started = clock.now
            let startStep = trainer.state.step, startPosition = trainer.state.position, startEpoch = trainer.state.epoch
            var finished = false
            let saving: Bool
            do {
                finished = try trainer.train(on: train, test: test, epochs: epochs, control: { p, snapshot in
                    progress.step(p)
                    if stopSignal.load(ordering: .relaxed) != 0 { return .stop }
                    if let every = checkpointEvery, p.step % every == 0 {
                        try save(snapshot())
                        lastCheckpoint = p.step
                    }
                    return .proceed
                }, epochEnd: { record, snapshot in
                    progress.epochDone(epoch: snapshot.state.epoch, total: epochs, record: record)
                })
                saving = finished || resumable
                if saving { try save(Trainer.Snapshot(network: trainer.network, state: trainer.state)) }
            } catch let error as ConvNetError {
                guard case .diverged = error else { throw error }
                progress.abandonLine()
                throw CLIError(code: Exit.dataError, message: error.description + "; " + (lastCheckpoint.map {
                    "the last finite checkpoint (step \($0)) stays in \(out ?? "")"
                } ?? "nothing saved: no NaN or infinite weights are written"))
            }
            let seconds = (clock.now - started - trainer.evaluationTime).seconds
            let examples = (trainer.state.epoch - startEpoch) * train.count + trainer.state.position - startPosition
            let signal = stopSignal.load(ordering: .relaxed)
            let summary = TrainSummary(
                epochs: trainer.state.epoch, steps: trainer.state.step - startStep,
                trainLoss: trainer.state.history.last?.loss, trainAccuracy: trainer.state.history.last?.trainAccuracy,
                testAccuracy: trainer.state.history.last?.testAccuracy,
                imagesPerSecond: seconds > 0 ? Double(examples) / seconds : 0, seconds: seconds, output: saving ? out : nil, interrupted: !finished)
            print(output.json ? summary.jsonString() : summary.line())
            if !finished {
                let what = signal == SIGTERM ? "terminated" : "interrupted"
                if let out, saving {
                    printError("\(what): checkpoint saved to \(out)")
                } else if let out {
                    printError("\(what): nothing saved (\(out) cannot hold a training state to resume from)")
                } else {
                    printError("\(what) (--no-save, nothing saved)")
                }
                throw ExitCode(signal == SIGTERM ? Exit.terminated : Exit.interrupted)
            }
            if out == nil { printError("the trained model was not saved (--no-save)") }
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

/// The extensions `train --out` knows, for messages: `.h5, .hdf5, ...`.
let knownExtensions = ModelFiles.formats.filter(\.capabilities.writes).flatMap { format in
    (format.format.rawValue == "hdf5" ? format.extensions + ["weights.h5"] : format.extensions).map { "." + $0 }
}.joined(separator: ", ")

/// The extensions of formats that keep the training state.
let resumableExtensions = ModelFiles.formats.filter { $0.capabilities.writes && $0.capabilities.trainingState }
    .map { "." + $0.extensions[0] }.joined(separator: " or ")

/// How a file name's extension reads in a message: `the extension '.pt'` or `a name without an extension`.
func extensionText(_ path: String) -> String {
    let ext = (path as NSString).pathExtension
    return ext.isEmpty ? "a name with no extension" : "the extension '.\(ext)'"
}

/// Refuses to save weights or optimizer slots that are NaN or infinite.
///
/// - Throws: ``ConvNetError/diverged(step:epoch:examples:epochSize:what:)`` naming the step whose update made
///   them so.
func requireFinite(_ snapshot: Trainer.Snapshot) throws {
    let tensors = snapshot.network.parameters + snapshot.state.slots
    guard let bad = tensors.first(where: { !$0.tensor.scalars.allSatisfy(\.isFinite) }) else { return }
    let s = snapshot.state, size = s.dataset?.trainCount ?? s.position
    // The step that was just applied ended at `position` of the current epoch, or at the end of the last one.
    let (epoch, end) = s.position > 0 ? (s.epoch + 1, s.position) : (s.epoch, size)
    throw ConvNetError.diverged(step: s.step, epoch: epoch, examples: max(end - s.batchSize + 1, 1)...max(end, 1), epochSize: size,
                                what: "\(bad.tensor.scalars.filter { !$0.isFinite }.count) values of \(bad.name) are not finite after the update")
}

/// Checks before training that `path` can take this model: writes it to a scratch file beside `path` (same
/// name and extension, so the same format and layout) and deletes it. Whatever the writer refuses (a layer
/// name HDF5 cannot hold, an architecture too large for an HDF5 attribute, ...) is reported now, naming `path`.
func dryRun(_ document: ModelDocument, to path: String, options: SaveOptions = .init()) throws {
    let folder = (path as NSString).deletingLastPathComponent
    let scratch = (folder.isEmpty ? "" : folder + "/") + ".cnnkit-check-\(getpid())-" + (path as NSString).lastPathComponent
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    do {
        try ModelFiles.save(document, to: scratch, options: options)
    } catch {
        let (code, message) = classify(error)
        let text = message.replacingOccurrences(of: scratch, with: path)
        // The folder is writable (checked just before): what fails here is the model in this format (65), or a
        // request the format cannot do (64).
        throw CLIError(code: code == Exit.cannotCreate || code == Exit.usage ? code : Exit.dataError,
                       message: text + " (found before training by writing the initialised model to a scratch file; nothing was trained or saved)")
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
        return try Architecture.decode(json: data, strict: true)
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
        jsonLine(self)
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

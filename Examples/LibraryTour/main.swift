// Use CNNKit as a library: load a model file of any format, predict, train on, save to another format, verify.
// Built and run by `make test` so that this example cannot rot. Usage: library-tour [MODEL] (default: trains one).
import ConvNet
import Datasets
import Foundation
import ModelArchive
import ModelFiles
import Verification

let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cnnkit-library-tour").path
try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
let train = try FashionMNIST.load(split: .train, limit: 500)
let test = try FashionMNIST.load(split: .test, limit: 200)

// 1. A model file: the one given, or a freshly trained seed network saved as HDF5.
var path = CommandLine.arguments.dropFirst().first ?? ""
if path.isEmpty {
    var trainer = try Trainer(architecture: .seed, optimizer: OptimizerConfig(learningRate: 0.005), batchSize: 1, seed: 0)
    try trainer.train(on: train, epochs: 1)
    path = folder + "/seed.h5"
    let document = try ModelDocument.recording(network: trainer.network, probeInputs: Probes.inputs(from: test, count: 4),
                                               source: "fashion-mnist:t10k[0..<4]", trainingState: trainer.state)
    try ModelFiles.save(document, to: path)
}

// 2. Load it (the format is detected from the bytes) and predict.
let document = try ModelFiles.load(path)
let network = try document.network()
let probabilities = try network.predict(.bytes(Array(test.images[0..<(3 * test.imageSize)])))
print("predicted labels:", network.labels(from: probabilities), "true labels:", test.labels[0..<3].map(Int.init))

// 3. Keep training from the saved state (bitwise as if never interrupted) for one more epoch.
let state = document.trainingState
    ?? TrainingState(batchSize: 1, optimizer: OptimizerConfig(learningRate: 0.005), rngState: RandomGenerator(seed: 0).state, seed: 0)
var trainer = try Trainer(network: network, state: state)
try trainer.train(on: train, epochs: state.epoch + 1)
print(String(format: "after epoch %d: test accuracy %.1f%%", trainer.state.epoch, try trainer.network.accuracy(on: test) * 100))

// 4. Save to CNNZ with probes, reopen, and verify it against the network it came from.
let output = folder + "/seed.cnnz"
let saved = try ModelDocument.recording(network: trainer.network, probeInputs: Probes.inputs(from: test, count: 4),
                                        source: "fashion-mnist:t10k[0..<4]", trainingState: trainer.state)
try ModelFiles.save(saved, to: output, options: SaveOptions(compress: true))
let opened = try ModelFiles.open(output)  // the small parts now, each tensor when the verifier asks for it
let report = try Verifier.verify(opened.model, path: output, format: opened.format.format.rawValue, parseDetail: opened.integrity,
                                 options: VerifyOptions(against: (saved, "in memory")))
for check in report.checks { print(check.status.rawValue, check.name, check.detail) }
guard report.passed else { exit(1) }

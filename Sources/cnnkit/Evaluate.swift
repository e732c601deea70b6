import ArgumentParser
import ConvNet
import Datasets
import Foundation
import InteropNumPy
import ModelArchive
import ModelFiles

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure a model's accuracy on the Fashion-MNIST test set.")

    @Argument(help: "The model file (any readable format).")
    var model: String

    @Option(help: "Folder holding the IDX files.")
    var data: String = FashionMNIST.defaultDirectory

    @Option(parsing: .unconditional, help: "Use only the first N test examples.")
    var limit: Int?

    @OptionGroup var architectureOption: ArchitectureOption

    @OptionGroup var threadsOption: ThreadsOption

    @OptionGroup var output: JSONOption

    func validate() throws {
        try OptionCheck.atLeast(1, limit, "--limit")
    }

    func run() throws {
        try reportingErrors(checking: model, architectureOption.architecture) {
            let progress = StageProgress(command: "evaluate", json: output.json)
            defer { progress.finish() }
            progress.stage("reading \(model)")
            let network = try progress.counting(openModel(model, architecture: architectureOption.architecture).model).document().network()
            progress.stage("reading \(data)")
            let test = try FashionMNIST.load(directory: data, split: .test, limit: limit)
            progress.stage("evaluating \(test.count) images")
            guard test.imageSize == network.inputCount else {
                throw ConvNetError.shapeMismatch(name: "test images", expected: network.shapes[0].dimensions, found: [test.height, test.width, test.channels])
            }
            let outputs = try network.predict(.bytes(test.images), threads: threadsOption.threads)
            let labels = network.labels(from: outputs)
            let correct = zip(labels, test.labels).filter { $0 == Int($1) }.count
            var loss = 0.0
            let k = network.outputCount
            for (i, label) in test.labels.enumerated() {
                loss -= log(max(Double(outputs[i * k + Int(label)]), 1e-12))
            }
            let report = EvaluateReport(accuracy: Double(correct) / Double(max(test.count, 1)), count: test.count, correct: correct,
                                        loss: loss / Double(max(test.count, 1)))
            progress.finish()
            print(output.json ? jsonLine(report) : String(format: "accuracy %.2f%% (%d of %d), loss %.4f", report.accuracy * 100, correct, test.count, report.loss))
        }
    }
}

struct EvaluateReport: Encodable {
    var accuracy: Double
    var count: Int
    var correct: Int
    var loss: Double
}

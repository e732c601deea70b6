import ArgumentParser
import ConvNet
import Datasets
import Foundation
import InteropNumPy
import ModelArchive
import ModelFiles

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the model's class probabilities for images.",
        discussion: "INPUT is an IDX file (.gz allowed) or a .npy array, N x H x W (x C), uint8 or float32 raw pixels.")

    @Argument(help: "The model file (any readable format).")
    var model: String

    @Argument(help: "The images: IDX or .npy, N x H x W (x C) raw pixels.")
    var input: String

    @OptionGroup var architectureOption: ArchitectureOption

    @OptionGroup var threadsOption: ThreadsOption

    @OptionGroup var output: JSONOption

    func run() throws {
        try reportingErrors {
            try checkInputs(model, input, architectureOption.architecture)
            let network = try loadNetwork(model, architecture: architectureOption.architecture)
            let images = try loadImages(input, shape: network.shapes[0], preprocessing: network.architecture.preprocessing)
            let outputs = try network.predict(.floats(images.values), threads: threadsOption.threads)
            let labels = network.labels(from: outputs)
            let k = network.outputCount
            let rows = (0..<labels.count).map { Array(outputs[($0 * k)..<(($0 + 1) * k)]) }
            if output.json {
                print(jsonLine(PredictReport(probabilities: rows, labels: labels)))
            } else {
                for (i, row) in rows.enumerated() {
                    print(String(format: "%d: label %d (p=%.4f)", i, labels[i], row[labels[i]]))
                }
            }
        }
    }
}

struct PredictReport: Encodable {
    var probabilities: [[Float]]
    var labels: [Int]
}

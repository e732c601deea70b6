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
        try reportingErrors(checking: model, input, architectureOption.architecture) {
            // The weights are used where they lie: a raw CNNZ file is mapped and its tensors viewed in place
            // (CRCs checked once at open); other formats are read once, one copy of each tensor.
            // A CNNZ file is mapped from the open on (its CRCs are checked through the mapping): from then on a
            // truncation by another process is reported, not a silent crash.
            if (try? ModelFiles.format(of: model))?.rawValue == "cnnz" { MappedFileGuard.install(path: model) }
            let opened = try openModel(model, architecture: architectureOption.architecture, mapped: true)
            let reader = opened.reader, architecture = reader.architecture
            let shapes = try architecture.activationShapes()
            let specs = try architecture.checkParameters(reader.parameterTensors.map { ($0.name, $0.shape, nil) })
            var views: [String: TensorView] = [:]
            for spec in specs { views[spec.name] = try reader.view(named: spec.name) }
            let images = try loadImages(input, shape: shapes[0], preprocessing: architecture.preprocessing)
            let outputs = try Network.predict(architecture: architecture, inputs: images.values, threads: threadsOption.threads) { spec in
                guard let view = views[spec.name] else { throw ConvNetError.missingParameter(name: spec.name) }
                return view
            }
            let k = shapes[shapes.count - 1].count
            let labels = Network.labels(from: outputs, outputCount: k)
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

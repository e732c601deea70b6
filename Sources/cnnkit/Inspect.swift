import ArgumentParser
import ConvNet
import Foundation
import ModelArchive
import ModelFiles

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a model file holds: format, architecture, tensors with statistics, training state, probes.")

    @Argument(help: "The model file.")
    var model: String

    @OptionGroup var architectureOption: ArchitectureOption

    @OptionGroup var output: JSONOption

    func run() throws {
        try reportingErrors(checking: model, architectureOption.architecture) {
            let report = try InspectReport(try openModel(model, architecture: architectureOption.architecture))
            if output.json { print(jsonLine(report)) } else { print(report.text()) }
        }
    }
}

/// The result of `cnnkit inspect` (`Schemas/inspect-report.schema.json`).
struct InspectReport: Encodable {
    struct LayerRow: Encodable {
        var name: String
        var type: String
        var output: [Int]
        var parameters: Int
    }

    struct TensorRow: Encodable {
        var name: String
        var shape: [Int]
        var dtype: String
        var codec: String
        var storedBytes: Int?
        var rawBytes: Int
        var min: Double?
        var max: Double?
        var mean: Double?
        var std: Double?
        var nonFinite: Int

        enum CodingKeys: String, CodingKey {
            case name, shape, dtype, codec, storedBytes = "stored_bytes", rawBytes = "raw_bytes", min, max, mean, std, nonFinite = "non_finite"
        }
    }

    struct TrainingRow: Encodable {
        var optimizer: String
        var learningRate: Float
        var epoch: Int
        var step: Int
        var position: Int
        var batchSize: Int
        var seed: UInt64
        var slots: Int
        var history: [EpochRecord]

        enum CodingKeys: String, CodingKey {
            case optimizer, learningRate = "learning_rate", epoch, step, position, batchSize = "batch_size", seed, slots, history
        }
    }

    struct ProbeRow: Encodable {
        var count: Int
        var source: String
        var inputShape: [Int]
        var outputShape: [Int]

        enum CodingKeys: String, CodingKey { case count, source, inputShape = "input_shape", outputShape = "output_shape" }
    }

    var file: String
    var format: String
    var version: String
    var fileBytes: Int
    var checksums: String
    var architecture: Architecture
    var layers: [LayerRow]
    var parameters: Int
    var tensors: [TensorRow]
    var trainingState: TrainingRow?
    var probes: ProbeRow?
    var metadata: [String: String]

    enum CodingKeys: String, CodingKey {
        case file, format, version, fileBytes = "file_bytes", checksums, architecture, layers, parameters, tensors,
             trainingState = "training_state", probes, metadata
    }

    /// Describes an opened file, reading one tensor at a time (memory stays near the largest tensor).
    init(_ opened: OpenedModel) throws {
        let model = opened.model
        file = opened.path
        format = opened.format.format.rawValue
        version = opened.reader.formatVersion
        fileBytes = fileSize(opened.path)
        checksums = opened.integrity
        architecture = model.architecture
        let shapes = try model.architecture.activationShapes()
        let counts = try model.architecture.parameterCounts()
        layers = model.architecture.layers.enumerated().map { i, layer in
            LayerRow(name: layer.name, type: layer.kind.typeName, output: shapes[i + 1].dimensions, parameters: counts[i])
        }
        parameters = layers.reduce(0) { $0 + $1.parameters }
        let format = format
        tensors = try (model.parameters + model.slots).map { descriptor in
            let tensor = try model.fetch(descriptor)
            let s = opened.reader.storage(of: descriptor.name)
            var finiteCount = 0, sum = 0.0, low = Double.infinity, high = -Double.infinity
            for v in tensor.scalars where v.isFinite {
                let d = Double(v)
                finiteCount += 1
                sum += d
                low = Swift.min(low, d)
                high = Swift.max(high, d)
            }
            let mean = finiteCount == 0 ? nil : sum / Double(finiteCount)
            let std = mean.map { m in
                (tensor.scalars.reduce(0.0) { $1.isFinite ? $0 + (Double($1) - m) * (Double($1) - m) : $0 } / Double(finiteCount)).squareRoot()
            }
            return TensorRow(name: descriptor.name, shape: tensor.shape, dtype: s?.dtype ?? "float32", codec: s?.codec ?? format,
                             storedBytes: s?.storedBytes, rawBytes: s?.rawBytes ?? tensor.count * 4,
                             min: finiteCount == 0 ? nil : low, max: finiteCount == 0 ? nil : high, mean: mean, std: std,
                             nonFinite: tensor.count - finiteCount)
        }
        if let t = model.trainingState {
            trainingState = TrainingRow(optimizer: t.optimizer.kind.rawValue, learningRate: t.optimizer.learningRate, epoch: t.epoch, step: t.step,
                                        position: t.position, batchSize: t.batchSize, seed: t.seed, slots: model.slots.count, history: t.history)
        }
        if let p = model.probes {
            probes = ProbeRow(count: p.count, source: p.source, inputShape: p.inputs.shape, outputShape: p.outputs.shape)
        }
        metadata = model.metadata
    }

    func text() -> String {
        var lines: [String] = []
        lines.append("\(file): \(format) \(version), \(fileBytes) bytes")
        lines.append("checksums: \(checksums)")
        lines.append("")
        lines.append("input \(architecture.input), preprocessing x * \(architecture.preprocessing.scale) + \(architecture.preprocessing.offset)")
        lines.append(pad("layer", 18) + pad("type", 11) + pad("output", 16) + "parameters")
        for l in layers {
            lines.append(pad(l.name, 18) + pad(l.type, 11) + pad("(" + l.output.map(String.init).joined(separator: ", ") + ")", 16) + "\(l.parameters)")
        }
        lines.append("total parameters: \(parameters)")
        lines.append("")
        lines.append(pad("tensor", 34) + pad("shape", 16) + pad("dtype", 9) + pad("codec", 16) + pad("stored", 10) + pad("raw", 10) + "min / max / mean / std, non-finite")
        for t in tensors {
            let stats = t.min.map { String(format: "%.4g / %.4g / %.4g / %.4g", $0, t.max ?? 0, t.mean ?? 0, t.std ?? 0) } ?? "-"
            lines.append(pad(t.name, 34) + pad("\(t.shape)", 16) + pad(t.dtype, 9) + pad(t.codec, 16) + pad(t.storedBytes.map(String.init) ?? "-", 10)
                         + pad("\(t.rawBytes)", 10) + stats + ", \(t.nonFinite)")
        }
        lines.append("")
        if let t = trainingState {
            lines.append("training state: \(t.optimizer) lr \(t.learningRate), epoch \(t.epoch), step \(t.step), position \(t.position), batch \(t.batchSize), seed \(t.seed), \(t.slots) slot tensors")
            for (i, h) in t.history.enumerated() {
                lines.append(String(format: "  epoch %d: loss %.4f, train accuracy %.2f%%", i + 1, h.loss, h.trainAccuracy * 100)
                             + (h.testAccuracy.map { String(format: ", test accuracy %.2f%%", $0 * 100) } ?? ""))
            }
        } else {
            lines.append("training state: none (weights only)")
        }
        lines.append(metadata[TensorDigests.metadataKey] == nil ? "digests: none recorded (stored values cannot be checked)"
                     : "digests: SHA-256 of every tensor, the training state and the architecture recorded (checked by cnnkit verify)")
        if let p = probes {
            lines.append("probes: \(p.count) inputs \(p.inputShape) from \(p.source), outputs \(p.outputShape)")
        } else {
            lines.append("probes: none")
        }
        for (k, v) in metadata.sorted(by: { $0.key < $1.key }) where k != "cnnkit.probe_trace" && k != TensorDigests.metadataKey {
            lines.append("metadata \(k): \(v)")
        }
        return lines.joined(separator: "\n")
    }
}

func pad(_ s: String, _ n: Int) -> String {
    s.count >= n ? s + " " : s.padding(toLength: n, withPad: " ", startingAt: 0)
}

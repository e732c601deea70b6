import ConvNet
import Foundation
import ModelArchive
import Verification

/// What to add to a report beyond what the file holds.
public struct ReportOptions {
    /// Labelled data: accuracy, the confusion matrix, the most confident mistakes, and a few of its images in
    /// the feature maps.
    public var data: (dataset: Dataset, source: String, classNames: [String])?
    /// A reference model to compare with, and its path.
    public var against: (model: StreamedModel, path: String)?
    /// Probe images shown in the feature maps (the first ones stored).
    public var probeImages: Int
    /// Data images added to the feature maps.
    public var dataImages: Int
    /// Confident mistakes shown.
    public var mistakes: Int
    /// Bins of every histogram.
    public var bins: Int
    /// Worker threads for evaluating the data.
    public var threads: Int

    /// Options; every count is the default the command line uses.
    public init(data: (dataset: Dataset, source: String, classNames: [String])? = nil, against: (model: StreamedModel, path: String)? = nil,
                probeImages: Int = 4, dataImages: Int = 3, mistakes: Int = 8, bins: Int = 40, threads: Int = 1) {
        self.data = data
        self.against = against
        self.probeImages = probeImages
        self.dataImages = dataImages
        self.mistakes = mistakes
        self.bins = bins
        self.threads = threads
    }
}

/// Collects a ``ReportContent`` from a model, reading its tensors one at a time: the verifier's pass
/// (`Verifier/verify(_:path:format:parseDetail:options:)`) reads every tensor once and the report keeps, of
/// each, only its histogram (and a conv kernel's picture); then one streamed forward pass over a few images
/// (`Verifier/run(_:inputs:transform:activations:)`) gives the activations. Memory stays near the largest
/// tensor, unless `--data` is given: evaluating data builds the whole network in memory.
public enum ReportBuilder {
    /// The report of `model`.
    ///
    /// - Throws: what reading a tensor throws (the file cannot be read whole), `ConvNetError` for a model
    ///   that cannot run, ``ReportError`` for data or a reference model that does not fit.
    public static func build(_ model: StreamedModel, file: ReportContent.FileFacts, options: ReportOptions = ReportOptions()) throws -> ReportContent {
        let architecture = model.architecture
        let shapes = try architecture.activationShapes()
        let counts = try architecture.parameterCounts()
        let layers = architecture.layers.enumerated().map { i, layer in
            ReportContent.Layer(name: layer.name, type: layer.kind.typeName, output: shapes[i + 1].dimensions, parameters: counts[i])
        }
        let kernels = Set(try architecture.parameterSpecs().filter { spec in
            if case .conv2d = architecture.layers[spec.layerIndex].kind { return !spec.isBias }
            return false
        }.map(\.name))

        // Every parameter is read once by the verifier; keep its histogram and, for a conv kernel, its picture.
        let collector = TensorCollector(kernels: kernels, bins: options.bins)
        var observed = model
        let read = model.tensor
        observed.tensor = { name in
            let t = try read(name)
            collector.see(name, t)
            return t
        }
        if let other = options.against {
            try checkComparable(model, other.model, file: file.path, other: other.path)
        }
        let verification = try Verifier.verify(observed, path: file.path, format: file.format, parseDetail: file.integrity,
                                               options: VerifyOptions(against: options.against))
        for descriptor in model.parameters where !collector.seen.contains(descriptor.name) {
            _ = try observed.fetch(descriptor)
        }

        var content = ReportContent(file: file, architecture: architecture, layers: layers, verification: verification,
                                    metadata: model.metadata, probes: model.probes.map { ($0.count, $0.source) }, trainingState: model.trainingState)
        let order = Dictionary(model.parameters.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        content.weightHistograms = collector.histograms.sorted { (order[$0.name] ?? 0) < (order[$1.name] ?? 0) }
        content.filters = collector.filters.sorted { (order[$0.layer + ".kernel"] ?? 0) < (order[$1.layer + ".kernel"] ?? 0) }

        // A few images through the model, layer by layer.
        content.inputs = inputImages(model, options: options)
        let inputShape = [content.inputs.count, architecture.input.height, architecture.input.width, architecture.input.channels]
        let inputs = Tensor(shape: inputShape, scalars: content.inputs.flatMap(\.pixels))
        var activations: [[[Float]]] = []
        let run = try Verifier.run(model, inputs: inputs, activations: { index, values in
            guard index > 0 else { return }
            activations.append(values)
        })
        for (i, layer) in architecture.layers.enumerated() {
            content.activationHistograms.append(.init(name: layer.name, histogram: Histogram(activations[i].joined(), bins: options.bins)))
            switch layer.kind {
            case .conv2d, .maxPool2d:
                content.featureMaps.append(FeatureMapGrid(layer: layer.name, shape: shapes[i + 1], maps: activations[i]))
            default:
                break
            }
        }
        if let other = options.against {
            content.comparison = try compare(architecture: architecture, activations: activations, outputs: run.outputs, inputs: inputs,
                                             other: other, inputsSource: content.inputs.map(\.caption).joined(separator: ", "), bins: options.bins)
        }
        if let data = options.data {
            content.evaluation = try evaluate(model, data: data, file: file.path, options: options)
        }
        return content
    }

    /// The probes shown (the first ``ReportOptions/probeImages``), then the first data images; random images
    /// when there are neither.
    static func inputImages(_ model: StreamedModel, options: ReportOptions) -> [ReportContent.InputImage] {
        let size = model.architecture.input.count
        var images: [ReportContent.InputImage] = []
        if let probes = model.probes {
            for i in 0..<min(options.probeImages, probes.count) {
                images.append(.init(pixels: Array(probes.inputs.scalars[(i * size)..<((i + 1) * size)]), caption: "probe \(i)"))
            }
        }
        if let (data, _, names) = options.data, data.imageSize == size {
            for i in 0..<min(options.dataImages, data.count) {
                let label = Int(data.labels[i])
                images.append(.init(pixels: data.images[(i * size)..<((i + 1) * size)].map(Float.init),
                                    caption: "data \(i) (\(label < names.count ? names[label] : "class \(label)"))"))
            }
        }
        if images.isEmpty {
            let random = Probes.randomInputs(shape: model.architecture.input, count: 2)
            for i in 0..<2 { images.append(.init(pixels: Array(random.scalars[(i * size)..<((i + 1) * size)]), caption: "random \(i)")) }
        }
        return images
    }

    static func checkComparable(_ model: StreamedModel, _ other: StreamedModel, file: String, other path: String) throws {
        let a = try model.architecture.activationShapes(), b = try other.architecture.activationShapes()
        guard a.first == b.first, a.last?.count == b.last?.count else {
            throw ReportError.incomparable(file: file, other: path, reason: "the models take \(a.first?.description ?? "?") and \(b.first?.description ?? "?") inputs and give \(a.last?.count ?? 0) and \(b.last?.count ?? 0) outputs")
        }
    }

    static func compare(architecture: Architecture, activations: [[[Float]]], outputs: [Float], inputs: Tensor,
                        other: (model: StreamedModel, path: String), inputsSource: String, bins: Int) throws -> ModelComparison {
        var reference: [[[Float]]] = []
        let run = try Verifier.run(other.model, inputs: inputs, activations: { index, values in
            if index > 0 { reference.append(values) }
        })
        var layerErrors: [(layer: String, maxError: Double, maxReference: Double)] = []
        let sameLayers = other.model.architecture.layers.map(\.kind) == architecture.layers.map(\.kind)
        if sameLayers {
            for (i, layer) in architecture.layers.enumerated() {
                var worst = 0.0, largest = 0.0
                for (a, b) in zip(activations[i], reference[i]) {
                    for (x, y) in zip(a, b) {
                        worst = max(worst, Double(abs(x - y)))
                        largest = max(largest, Double(abs(y)))
                    }
                }
                layerErrors.append((layer.name, worst, largest))
            }
        }
        let errors = zip(outputs, run.outputs).map { Double(abs($0 - $1)) }
        let k = max(1, outputs.count / max(1, inputs.shape[0]))
        var agree = 0
        for i in 0..<(outputs.count / k) {
            let a = outputs[(i * k)..<((i + 1) * k)], b = run.outputs[(i * k)..<((i + 1) * k)]
            if a.indices.max(by: { a[$0] < a[$1] }) == b.indices.max(by: { b[$0] < b[$1] }) { agree += 1 }
        }
        let maxError = errors.max() ?? 0
        return ModelComparison(layerMaxErrors: layerErrors, errors: Histogram(errors, low: 0, high: maxError, bins: bins),
                               errorVersusMagnitude: zip(run.outputs, errors).map { (Double(abs($0)), $1) }, other: other.path,
                               inputs: inputsSource, maxError: maxError, argmaxAgreement: agree, count: outputs.count / k)
    }

    static func evaluate(_ model: StreamedModel, data: (dataset: Dataset, source: String, classNames: [String]), file: String,
                         options: ReportOptions) throws -> Evaluation {
        let network = try model.network()
        let set = data.dataset
        guard set.imageSize == network.inputCount else {
            throw ReportError.dataMismatch(file: data.source, reason: "images of \(set.height) x \(set.width) x \(set.channels) do not fit the input \(network.shapes[0]) of \(file)")
        }
        let k = network.outputCount
        if let top = set.labels.max(), Int(top) >= k {
            throw ReportError.dataMismatch(file: data.source, reason: "label \(top) is out of range for the \(k) outputs of \(file)")
        }
        let outputs = try network.predict(.bytes(set.images), threads: options.threads)
        let predicted = network.labels(from: outputs)
        var matrix = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        var wrong: [(index: Int, confidence: Float)] = []
        for (i, label) in set.labels.enumerated() {
            matrix[Int(label)][predicted[i]] += 1
            if predicted[i] != Int(label) { wrong.append((i, outputs[i * k + predicted[i]])) }
        }
        wrong.sort { $0.confidence != $1.confidence ? $0.confidence > $1.confidence : $0.index < $1.index }
        let size = set.imageSize
        let mistakes = wrong.prefix(options.mistakes).map { w in
            Evaluation.Mistake(index: w.index, label: Int(set.labels[w.index]), predicted: predicted[w.index], confidence: Double(w.confidence),
                               pixels: set.images[(w.index * size)..<((w.index + 1) * size)].map(Float.init))
        }
        let names = (0..<k).map { $0 < data.classNames.count ? data.classNames[$0] : "class \($0)" }
        return Evaluation(source: data.source, classNames: names, matrix: matrix, mistakes: mistakes)
    }
}

/// Keeps, of each parameter tensor read, its histogram, and of each conv kernel its picture.
final class TensorCollector: @unchecked Sendable {
    let kernels: Set<String>
    let bins: Int
    var seen: Set<String> = []
    var histograms: [ReportContent.NamedHistogram] = []
    var filters: [FilterGrid] = []

    init(kernels: Set<String>, bins: Int) {
        self.kernels = kernels
        self.bins = bins
    }

    func see(_ name: String, _ tensor: Tensor) {
        guard !name.hasPrefix("optimizer."), !seen.contains(name) else { return }
        seen.insert(name)
        histograms.append(.init(name: name, histogram: Histogram(tensor.scalars, bins: bins)))
        if kernels.contains(name) {
            filters.append(FilterGrid(layer: String(name.dropLast(".kernel".count)), kernel: tensor))
        }
    }
}

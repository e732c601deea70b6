import ConvNet
import Foundation
import ModelArchive

/// What to verify a model against.
public struct VerifyOptions {
    /// Explicit tolerance; nil uses exact equality, or the bound recorded in a lossy file.
    public var tolerance: Tolerance?
    /// A second model to compare with, and its path.
    public var against: (model: StreamedModel, path: String)?
    /// Raw-pixel inputs `[n, h, w, c]` to run instead of the probes.
    public var inputs: Tensor?
    /// Labelled data for accuracy and agreement.
    public var data: Dataset?
    /// With ``data``: the accuracy the model must reach; nil compares with the accuracy the file records (its
    /// training history's last test accuracy) or, with ``against``, the other model's.
    public var minAccuracy: Double?
    /// With ``data`` and no ``minAccuracy``: how far below the reference accuracy the model may fall; nil
    /// allows three standard errors of the measured accuracy on `data.count` examples, at least 0.01.
    public var accuracyDrop: Double?

    /// Options; by default only the file's own probes are checked.
    public init(tolerance: Tolerance? = nil, against: (model: StreamedModel, path: String)? = nil, inputs: Tensor? = nil, data: Dataset? = nil,
                minAccuracy: Double? = nil, accuracyDrop: Double? = nil) {
        self.tolerance = tolerance
        self.against = against
        self.inputs = inputs
        self.data = data
        self.minAccuracy = minAccuracy
        self.accuracyDrop = accuracyDrop
    }

    /// Options comparing with a model held in memory.
    public init(tolerance: Tolerance? = nil, against document: (document: ModelDocument, path: String), inputs: Tensor? = nil, data: Dataset? = nil) {
        self.init(tolerance: tolerance, against: (StreamedModel(document: document.document), document.path), inputs: inputs, data: data)
    }
}

/// The verifier: the checks of `Documentation/cli.md` ("Verification"), in order: the file parses and passes
/// its checksums (the caller opened it), the architecture is valid and every tensor has its shape, values are
/// finite, the probes reproduce the stored outputs; optionally the comparison with another model and accuracy
/// on data.
///
/// It reads the model through a `StreamedModel`, so the same checks run on a file of any format, one tensor
/// at a time, and on a document in memory.
public enum Verifier {
    /// The metadata keys where a lossy conversion records the tolerance its file guarantees.
    public static let atolKey = "cnnkit.tolerance.atol"
    /// The metadata key of the recorded relative tolerance (``atolKey`` holds the absolute one).
    public static let rtolKey = "cnnkit.tolerance.rtol"

    /// The tolerance recorded in metadata by a lossy conversion, or exact.
    public static func recordedTolerance(_ metadata: [String: String]) -> Tolerance {
        Tolerance(atol: metadata[atolKey].flatMap(Double.init) ?? 0, rtol: metadata[rtolKey].flatMap(Double.init) ?? 0)
    }

    /// Verifies a model held in memory (its tensors cannot fail to read).
    public static func verify(document: ModelDocument, path: String, format: String, parseDetail: String,
                              options: VerifyOptions = VerifyOptions()) -> VerifyReport {
        do {
            return try verify(StreamedModel(document: document), path: path, format: format, parseDetail: parseDetail, options: options)
        } catch {
            return VerifyReport(passed: false, model: path, format: format, against: options.against?.path,
                                checks: [CheckResult(name: "parse", status: .fail, detail: "\(error)")])
        }
    }

    /// Verifies a model, reading every tensor once (optimizer slots too, so that their checksums are checked).
    ///
    /// - Parameters:
    ///   - model: the model, usually `StreamedModel/init(reader:)` of an opened file.
    ///   - path: how the report names the file.
    ///   - format: the file's format, as the report names it.
    ///   - parseDetail: what opening the file proved (the format's `ModelFileFormat/integrity`).
    ///   - options: what to compare with, the tolerance, data.
    /// - Throws: what reading a tensor of `model` throws: a file that cannot be read whole. Failures of the
    ///   other model are reported as a failed check.
    public static func verify(_ model: StreamedModel, path: String, format: String, parseDetail: String,
                              options: VerifyOptions = VerifyOptions()) throws -> VerifyReport {
        var report = VerifyReport(passed: true, model: path, format: format, against: options.against?.path,
                                  checks: [CheckResult(name: "parse", status: .pass, detail: parseDetail)])
        func add(_ name: String, _ status: CheckStatus, _ detail: String) { report.add(name, status, detail) }

        // The digests recorded at save time (one pass over the tensors).
        let digests = try checkDigests(model, path: path)
        add("digests", digests.status, digests.detail)

        // Architecture and shapes.
        let outputCount: Int, inputShape: ActivationShape
        do {
            try model.checkParameters()
            let shapes = try model.architecture.activationShapes()
            inputShape = shapes[0]
            outputCount = shapes[shapes.count - 1].count
            add("architecture", .pass, "\(model.architecture.layers.count) layers, \(model.parameters.count) tensors with the shapes the architecture implies")
        } catch {
            add("architecture", .fail, "\(error)")
            return report
        }

        // One streamed pass over the probes reads every parameter; then the slots are read.
        let run = try Self.run(model, inputs: model.probes?.inputs ?? Tensor(zeros: [0] + inputShape.dimensions))
        for slot in model.slots { _ = try model.fetch(slot) }

        // Finite values.
        let total = run.valueCounts.reduce(0) { $0 + $1.count }, bad = run.valueCounts.filter { $0.nonFinite > 0 }
        if bad.isEmpty {
            add("finite", .pass, "\(total) values, none NaN or infinite")
        } else {
            add("finite", .fail, bad.map { "\($0.name): \($0.nonFinite) of \($0.count) values NaN or infinite" }.joined(separator: "; "))
        }

        // Probes.
        let tolerance = options.tolerance ?? recordedTolerance(model.metadata)
        if let probes = model.probes {
            guard run.outputs.count == probes.outputs.scalars.count else {
                add("probes", .fail, "stored outputs have shape \(probes.outputs.shape), the model gives \(run.outputs.count) values")
                return report
            }
            let c = OutputComparison(actual: run.outputs, reference: probes.outputs.scalars, width: outputCount, tolerance: tolerance)
            report.comparison = c
            add("probes", c.passed ? .pass : .fail, describe(c, what: "\(probes.count) probes (\(probes.source))"))
            if !c.passed, let stored = ProbeTrace.stored(in: model.metadata) {
                report.firstDivergingLayer = firstDivergingLayer(now: run.trace, stored: stored, tolerance: tolerance)
            }
        } else {
            add("probes", .skip, "the file stores no probes")
        }

        // Against another model.
        if let (other, otherPath) = options.against {
            compare(model, other: other, otherPath: otherPath, inputShape: inputShape, outputCount: outputCount, options: options, report: &report)
        } else if let inputs = options.inputs {
            do {
                _ = try outputs(of: model, inputs: inputs)
                add("inputs", .pass, "\(inputs.shape.first ?? 0) inputs run; give --against OTHER to compare them")
            } catch {
                add("inputs", .fail, "\(error)")
            }
        }

        if let data = options.data, options.against == nil {
            do {
                let accuracy = try model.network().accuracy(on: data)
                let recorded = model.trainingState?.history.last?.testAccuracy
                let (status, detail, required, source) = judge(accuracy: accuracy, count: data.count, options: options,
                                                               reference: recorded.map { ($0, "the test accuracy the file's training history records") })
                report.accuracy = AccuracyReport(count: data.count, accuracy: accuracy, otherAccuracy: nil, agreement: nil,
                                                 required: required, requiredSource: source)
                add("data", status, String(format: "accuracy %.2f%% on %d examples", accuracy * 100, data.count) + detail)
            } catch {
                add("data", .fail, "\(error)")
            }
        }
        return report
    }

    /// Whether a measured accuracy is high enough: at least `--min-accuracy`, else no more than the allowed
    /// drop below the reference; a pass with a note when there is nothing to compare with.
    static func judge(accuracy: Double, count: Int, options: VerifyOptions, reference: (value: Double, what: String)?)
        -> (CheckStatus, String, Double?, String?) {
        let required: Double, source: String
        if let minimum = options.minAccuracy {
            required = minimum
            source = "--min-accuracy"
        } else if let reference {
            let drop = options.accuracyDrop ?? max(0.01, 3 * (reference.value * (1 - reference.value) / Double(max(count, 1))).squareRoot())
            required = reference.value - drop
            source = String(format: "%@ (%.2f%%) less %.2f points", reference.what, reference.value * 100, drop * 100)
        } else {
            return (.pass, "; nothing to compare with (the file records no test accuracy): give --min-accuracy to require one", nil, nil)
        }
        let passed = accuracy >= required
        let detail = String(format: "; %@ %.2f%% required (%@)", passed ? "at least" : "below the", required * 100, source)
        return (passed ? .pass : .fail, detail, required, source)
    }

    /// The digests check: every tensor, the probes, the training state and the architecture against the
    /// SHA-256 digests the file recorded when it was saved; skipped (and said so) for a file without them.
    static func checkDigests(_ model: StreamedModel, path: String) throws -> (status: CheckStatus, detail: String) {
        let recorded: TensorDigests?
        do {
            recorded = try TensorDigests.recorded(in: model.metadata, path: path)
        } catch {
            return (.fail, "\(error)")
        }
        guard let digests = recorded else {
            return (.skip, "no digest: stored values unchecked (the file records no SHA-256 digests: written by another tool or an older CNNKit)")
        }
        if let failure = try digests.mismatchOfSmallParts(model) { return (.fail, "\(failure.part): \(failure.reason)") }
        var present: Set<String> = []
        if model.probes != nil { present = [TensorDigests.probeInputs, TensorDigests.probeOutputs] }
        for d in model.parameters + model.slots {
            let t = try model.fetch(d)
            if let reason = digests.mismatch(name: d.name, values: t.scalars) { return (.fail, "tensor \(d.name): \(reason)") }
            present.insert(d.name)
        }
        if let extra = digests.tensors.keys.sorted().first(where: { !present.contains($0) }) {
            return (.fail, "tensor \(extra): the file records a digest for it but does not hold it")
        }
        let state = model.trainingState == nil ? "" : ", the training state"
        return (.pass, "SHA-256 of \(present.count) tensors\(state) and the architecture match the digests recorded at save time")
    }

    static func compare(_ model: StreamedModel, other: StreamedModel, otherPath: String, inputShape: ActivationShape, outputCount: Int,
                        options: VerifyOptions, report: inout VerifyReport) {
        func add(_ name: String, _ status: CheckStatus, _ detail: String) { report.add(name, status, detail) }
        let otherShapes: [ActivationShape]
        do {
            try other.checkParameters()
            otherShapes = try other.architecture.activationShapes()
        } catch {
            add("against", .fail, "\(otherPath): \(error)")
            return
        }
        let otherOutputs = otherShapes[otherShapes.count - 1].count
        guard otherShapes[0] == inputShape, otherOutputs == outputCount else {
            add("against", .fail, "\(otherPath) takes \(otherShapes[0]) and gives \(otherOutputs) outputs; this model takes \(inputShape) and gives \(outputCount)")
            return
        }
        // A lossy side's recorded bound applies to the comparison too.
        let recorded = [recordedTolerance(model.metadata), recordedTolerance(other.metadata)]
        let tolerance = options.tolerance ?? Tolerance(atol: recorded.map(\.atol).max() ?? 0, rtol: recorded.map(\.rtol).max() ?? 0)
        let inputs: Tensor, source: String
        if let given = options.inputs { inputs = given; source = "given inputs" }
        else if let p = model.probes { inputs = p.inputs; source = "probes of the model" }
        else if let p = other.probes { inputs = p.inputs; source = "probes of \(otherPath)" }
        else if let data = options.data { inputs = Probes.inputs(from: data, count: data.count); source = "data" }
        else {
            add("against", .skip, "no inputs to compare on: neither file has probes; give --inputs or --data")
            return
        }
        do {
            let a = try outputs(of: model, inputs: inputs), b = try outputs(of: other, inputs: inputs)
            let c = OutputComparison(actual: a, reference: b, width: outputCount, tolerance: tolerance)
            report.comparison = c
            add("against", c.passed ? .pass : .fail, describe(c, what: "\(c.count) inputs (\(source)) against \(otherPath)"))
            if !c.passed, model.architecture == other.architecture {
                report.firstDivergingLayer = try? firstDivergingLayer(model, other, worst: inputs.row(c.worstInput), tolerance: tolerance)
            }
            if let data = options.data {
                let networkA = try model.network(), networkB = try other.network()
                let pa = networkA.labels(from: try networkA.predict(.bytes(data.images), threads: 2))
                let pb = networkB.labels(from: try networkB.predict(.bytes(data.images), threads: 2))
                let truth = data.labels.map(Int.init)
                let n = Double(max(data.count, 1))
                let accuracy = Double(zip(pa, truth).filter { $0 == $1 }.count) / n
                let otherAccuracy = Double(zip(pb, truth).filter { $0 == $1 }.count) / n
                let agreement = Double(zip(pa, pb).filter { $0 == $1 }.count) / n
                let (status, detail, required, requiredSource) = judge(accuracy: accuracy, count: data.count, options: options,
                                                                       reference: (otherAccuracy, "the accuracy of \(otherPath)"))
                report.accuracy = AccuracyReport(count: data.count, accuracy: accuracy, otherAccuracy: otherAccuracy, agreement: agreement,
                                                 required: required, requiredSource: requiredSource)
                add("data", status, String(format: "accuracy %.2f%% vs %.2f%%, predictions agree on %.2f%% of %d examples",
                                           accuracy * 100, otherAccuracy * 100, agreement * 100, data.count) + detail)
            }
        } catch {
            add("against", .fail, "\(error)")
        }
    }

    /// The first layer whose activations on one input differ beyond `tolerance` between two models of the same
    /// architecture (both run layer by layer).
    static func firstDivergingLayer(_ a: StreamedModel, _ b: StreamedModel, worst: Tensor, tolerance: Tolerance) throws -> String? {
        var la: [[Float]] = [], lb: [[Float]] = []
        _ = try run(a, inputs: worst, activations: { _, values in la.append(values.first ?? []) })
        _ = try run(b, inputs: worst, activations: { _, values in lb.append(values.first ?? []) })
        for l in 1..<min(la.count, lb.count) where !zip(la[l], lb[l]).allSatisfy({ tolerance.accepts($0, $1) }) {
            return a.architecture.layers[l - 1].name
        }
        return nil
    }

    /// The first layer where two probe traces differ (exactly, or beyond a relative 1e-3 with a tolerance).
    static func firstDivergingLayer(now: ProbeTrace, stored: ProbeTrace, tolerance: Tolerance) -> String? {
        guard now.layers == stored.layers, now.statistics.count == stored.statistics.count,
              (now.statistics + stored.statistics).allSatisfy({ $0.count == now.layers.count }) else { return nil }
        let exact = tolerance == .exact
        for l in 0..<now.layers.count {
            for p in 0..<now.statistics.count {
                for (a, b) in zip(now.statistics[p][l], stored.statistics[p][l]) {
                    let differs = exact ? a.bitPattern != b.bitPattern : abs(a - b) > 1e-3 * max(1, abs(b))
                    if differs { return now.layers[l] }
                }
            }
        }
        return nil
    }

    static func describe(_ c: OutputComparison, what: String) -> String {
        let rule = c.tolerance == .exact ? "exact equality" : "atol \(c.tolerance.atol), rtol \(c.tolerance.rtol)"
        var s = String(format: "%@: max abs error %.3g, mean %.3g, max rel %.3g, argmax agrees on %d of %d (%@)",
                       what, c.maxAbsError, c.meanAbsError, c.maxRelError, c.argmaxAgreement, c.count, rule)
        if !c.passed { s += ", \(c.failingElements) values out of tolerance, worst input \(c.worstInput)" }
        return s
    }
}

extension Tensor {
    /// Row `i` of a batch `[n, ...]`, as a batch of one.
    func row(_ i: Int) -> Tensor {
        let size = shape.dropFirst().reduce(1, *)
        return Tensor(shape: [1] + shape.dropFirst(), scalars: Array(scalars[(i * size)..<((i + 1) * size)]))
    }
}

import ConvNet
import Foundation
import ModelArchive

/// The outcome of one check.
public enum CheckStatus: String, Codable, Sendable {
    case pass = "PASS"
    case fail = "FAIL"
    case skip = "SKIP"
}

/// One line of a verification report.
public struct CheckResult: Codable, Sendable, Hashable {
    public var name: String
    public var status: CheckStatus
    public var detail: String

    public init(name: String, status: CheckStatus, detail: String) {
        self.name = name
        self.status = status
        self.detail = detail
    }
}

/// Accuracy on labelled data, and how often the two models agree (`--data`).
public struct AccuracyReport: Codable, Sendable, Hashable {
    public var count: Int
    public var accuracy: Double
    public var otherAccuracy: Double?
    public var agreement: Double?

    enum CodingKeys: String, CodingKey { case count, accuracy, otherAccuracy = "other_accuracy", agreement }
}

/// What `cnnkit verify` found (`Schemas/verify-report.schema.json`).
public struct VerifyReport: Codable, Sendable {
    public var passed: Bool
    public var model: String
    public var format: String
    public var against: String?
    public var checks: [CheckResult]
    /// The probe rerun (or the comparison with the other model), when one ran.
    public var comparison: OutputComparison?
    /// On failure: the first layer whose activations diverge, when it can be told.
    public var firstDivergingLayer: String?
    public var accuracy: AccuracyReport?

    enum CodingKeys: String, CodingKey {
        case passed, model, format, against, checks, comparison, firstDivergingLayer = "first_diverging_layer", accuracy
    }

    /// Appends a check; a failure fails the report.
    mutating func add(_ name: String, _ status: CheckStatus, _ detail: String) {
        checks.append(CheckResult(name: name, status: status, detail: detail))
        if status == .fail { passed = false }
    }

    public init(passed: Bool, model: String, format: String, against: String?, checks: [CheckResult]) {
        self.passed = passed
        self.model = model
        self.format = format
        self.against = against
        self.checks = checks
    }
}

/// What to verify a model against.
public struct VerifyOptions: Sendable {
    /// Explicit tolerance; nil uses exact equality, or the bound recorded in a lossy file.
    public var tolerance: Tolerance?
    /// A second model to compare with, and its path.
    public var against: (document: ModelDocument, path: String)?
    /// Raw-pixel inputs `[n, h, w, c]` to run instead of the probes.
    public var inputs: Tensor?
    /// Labelled data for accuracy and agreement.
    public var data: Dataset?

    public init(tolerance: Tolerance? = nil, against: (document: ModelDocument, path: String)? = nil, inputs: Tensor? = nil, data: Dataset? = nil) {
        self.tolerance = tolerance
        self.against = against
        self.inputs = inputs
        self.data = data
    }
}

/// The checks of DESIGN.md section 5, in order: the file parses and passes its checksums (the caller has read
/// it), the architecture is valid and every tensor has its shape, values are finite, the probes reproduce the
/// stored outputs; optionally the comparison with another model and accuracy on data.
public enum Verifier {
    /// The metadata keys where a lossy conversion records the tolerance its file guarantees.
    public static let atolKey = "cnnkit.tolerance.atol"
    public static let rtolKey = "cnnkit.tolerance.rtol"

    /// The tolerance a document records (lossy conversions), or exact.
    public static func recordedTolerance(_ document: ModelDocument) -> Tolerance {
        Tolerance(atol: document.metadata[atolKey].flatMap(Double.init) ?? 0, rtol: document.metadata[rtolKey].flatMap(Double.init) ?? 0)
    }

    public static func verify(document: ModelDocument, path: String, format: String, parseDetail: String,
                              options: VerifyOptions = VerifyOptions()) -> VerifyReport {
        var report = VerifyReport(passed: true, model: path, format: format, against: options.against?.path,
                                  checks: [CheckResult(name: "parse", status: .pass, detail: parseDetail)])
        func add(_ name: String, _ status: CheckStatus, _ detail: String) { report.add(name, status, detail) }

        // Architecture and shapes.
        let network: Network
        do {
            network = try document.network()
            add("architecture", .pass, "\(document.architecture.layers.count) layers, \(document.tensors.count) tensors with the shapes the architecture implies")
        } catch {
            add("architecture", .fail, "\(error)")
            return report
        }

        // Finite values.
        let counts = document.tensors.map { ($0.name, $0.tensor.scalars.count, $0.tensor.scalars.filter { !$0.isFinite }.count) }
        let total = counts.reduce(0) { $0 + $1.1 }, bad = counts.filter { $0.2 > 0 }
        if bad.isEmpty {
            add("finite", .pass, "\(total) values, none NaN or infinite")
        } else {
            add("finite", .fail, bad.map { "\($0.0): \($0.2) of \($0.1) values NaN or infinite" }.joined(separator: "; "))
        }

        // Probes.
        let tolerance = options.tolerance ?? recordedTolerance(document)
        if let probes = document.probes {
            do {
                let outputs = try network.predict(.floats(probes.inputs.scalars))
                guard outputs.count == probes.outputs.scalars.count else {
                    add("probes", .fail, "stored outputs have shape \(probes.outputs.shape), the model gives \(outputs.count) values")
                    return report
                }
                let c = OutputComparison(actual: outputs, reference: probes.outputs.scalars, width: network.outputCount, tolerance: tolerance)
                report.comparison = c
                add("probes", c.passed ? .pass : .fail, describe(c, what: "\(probes.count) probes (\(probes.source))"))
                if !c.passed {
                    report.firstDivergingLayer = firstDivergingLayer(network: network, document: document, tolerance: tolerance)
                }
            } catch {
                add("probes", .fail, "\(error)")
            }
        } else {
            add("probes", .skip, "the file stores no probes")
        }

        // Against another model.
        if let (other, otherPath) = options.against {
            compare(network, other: other, otherPath: otherPath, document: document, options: options, tolerance: options.tolerance, report: &report)
        } else if let inputs = options.inputs {
            do {
                _ = try network.predict(.floats(inputs.scalars))
                add("inputs", .pass, "\(inputs.shape.first ?? 0) inputs run; give --against OTHER to compare them")
            } catch {
                add("inputs", .fail, "\(error)")
            }
        }

        if let data = options.data, options.against == nil {
            do {
                let accuracy = try network.accuracy(on: data)
                report.accuracy = AccuracyReport(count: data.count, accuracy: accuracy, otherAccuracy: nil, agreement: nil)
                add("data", .pass, String(format: "accuracy %.2f%% on %d examples", accuracy * 100, data.count))
            } catch {
                add("data", .fail, "\(error)")
            }
        }
        return report
    }

    static func compare(_ network: Network, other: ModelDocument, otherPath: String, document: ModelDocument, options: VerifyOptions,
                        tolerance explicit: Tolerance?, report: inout VerifyReport) {
        func add(_ name: String, _ status: CheckStatus, _ detail: String) { report.add(name, status, detail) }
        let otherNetwork: Network
        do { otherNetwork = try other.network() } catch {
            add("against", .fail, "\(otherPath): \(error)")
            return
        }
        guard otherNetwork.shapes.first == network.shapes.first, otherNetwork.outputCount == network.outputCount else {
            add("against", .fail, "\(otherPath) takes \(otherNetwork.shapes[0]) and gives \(otherNetwork.outputCount) outputs; this model takes \(network.shapes[0]) and gives \(network.outputCount)")
            return
        }
        // A lossy side's recorded bound applies to the comparison too.
        let recorded = [recordedTolerance(document), recordedTolerance(other)]
        let tolerance = explicit ?? Tolerance(atol: recorded.map(\.atol).max() ?? 0, rtol: recorded.map(\.rtol).max() ?? 0)
        let inputs: Tensor, source: String
        if let given = options.inputs { inputs = given; source = "given inputs" }
        else if let p = document.probes { inputs = p.inputs; source = "probes of the model" }
        else if let p = other.probes { inputs = p.inputs; source = "probes of \(otherPath)" }
        else if let data = options.data { inputs = Probes.inputs(from: data, count: data.count); source = "data" }
        else {
            add("against", .skip, "no inputs to compare on: neither file has probes; give --inputs or --data")
            return
        }
        do {
            let a = try network.predict(.floats(inputs.scalars)), b = try otherNetwork.predict(.floats(inputs.scalars))
            let c = OutputComparison(actual: a, reference: b, width: network.outputCount, tolerance: tolerance)
            report.comparison = c
            add("against", c.passed ? .pass : .fail, describe(c, what: "\(c.count) inputs (\(source)) against \(otherPath)"))
            if !c.passed, network.architecture == otherNetwork.architecture {
                let size = network.inputCount
                let worst = Array(inputs.scalars[(c.worstInput * size)..<((c.worstInput + 1) * size)])
                if let la = try? network.layerOutputs(worst), let lb = try? otherNetwork.layerOutputs(worst) {
                    for l in 1..<la.count {
                        if !zip(la[l], lb[l]).allSatisfy({ tolerance.accepts($0, $1) }) {
                            report.firstDivergingLayer = network.architecture.layers[l - 1].name
                            break
                        }
                    }
                }
            }
            if let data = options.data {
                let pa = network.labels(from: try network.predict(.bytes(data.images), threads: 2))
                let pb = otherNetwork.labels(from: try otherNetwork.predict(.bytes(data.images), threads: 2))
                let truth = data.labels.map(Int.init)
                let n = Double(max(data.count, 1))
                let accuracy = Double(zip(pa, truth).filter { $0 == $1 }.count) / n
                let otherAccuracy = Double(zip(pb, truth).filter { $0 == $1 }.count) / n
                let agreement = Double(zip(pa, pb).filter { $0 == $1 }.count) / n
                report.accuracy = AccuracyReport(count: data.count, accuracy: accuracy, otherAccuracy: otherAccuracy, agreement: agreement)
                add("data", .pass, String(format: "accuracy %.2f%% vs %.2f%%, predictions agree on %.2f%% of %d examples",
                                          accuracy * 100, otherAccuracy * 100, agreement * 100, data.count))
            }
        } catch {
            add("against", .fail, "\(error)")
        }
    }

    /// The first layer whose recomputed probe trace differs from the stored one (exactly, or beyond a relative
    /// 1e-3 when verifying with a tolerance).
    static func firstDivergingLayer(network: Network, document: ModelDocument, tolerance: Tolerance) -> String? {
        guard let stored = ProbeTrace.stored(in: document), let probes = document.probes,
              let now = try? ProbeTrace(network: network, inputs: probes.inputs) else { return nil }
        return firstDivergingLayer(now: now, stored: stored, tolerance: tolerance)
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

import ConvNet
import Foundation
import ModelArchive

/// What one streamed forward pass over a model's probes found.
public struct StreamedProbeRun: Sendable {
    /// One row of outputs per probe.
    public var outputs: [Float]
    /// The per-layer trace, as ``ProbeTrace/init(network:inputs:)`` computes it.
    public var trace: ProbeTrace
    /// Per parameter read: name, value count, non-finite count.
    public var valueCounts: [(name: String, count: Int, nonFinite: Int)]
}

extension ProbeTrace {
    /// A trace from its parts.
    public init(layers: [String], statistics: [[[Double]]]) {
        self.layers = layers
        self.statistics = statistics
    }
}

/// Verification that never holds a whole model: parameters are fetched one layer at a time
/// (``Network/predictStreaming(architecture:inputs:parameter:layerOutputs:)``), so a model of several hundred
/// MB is checked while holding its largest tensor.
public enum StreamingVerifier {
    /// Runs `inputs` through the model, counting the non-finite values of every parameter on the way.
    ///
    /// - Parameters:
    ///   - transform: applied to each tensor after fetching (for example a lossy dtype's round trip).
    /// - Throws: what fetching throws, or ``ConvNetError`` for a bad architecture or shape.
    public static func run(_ model: StreamedModel, inputs: Tensor,
                           transform: ((inout Tensor, String) throws -> Void)? = nil) throws -> StreamedProbeRun {
        let byName = Dictionary(model.parameters.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var counts: [(name: String, count: Int, nonFinite: Int)] = []
        let n = inputs.shape.first ?? 0
        var statistics = [[[Double]]](repeating: [], count: n)
        let outputs = try Network.predictStreaming(architecture: model.architecture, inputs: inputs.scalars, parameter: { spec in
            guard let descriptor = byName[spec.name] else { throw ConvNetError.missingParameter(name: spec.name) }
            var tensor = try model.fetch(descriptor)
            try transform?(&tensor, spec.name)
            counts.append((spec.name, tensor.scalars.count, tensor.scalars.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }))
            return tensor
        }, layerOutputs: { _, activations in
            for (p, values) in activations.enumerated() where p < n { statistics[p].append(ProbeTrace.summarize(values)) }
        })
        let trace = ProbeTrace(layers: ["input"] + model.architecture.layers.map(\.name), statistics: statistics)
        return StreamedProbeRun(outputs: outputs, trace: trace, valueCounts: counts)
    }

    /// The tolerance recorded in metadata by a lossy conversion, or exact.
    public static func recordedTolerance(_ metadata: [String: String]) -> Tolerance {
        Tolerance(atol: metadata[Verifier.atolKey].flatMap(Double.init) ?? 0, rtol: metadata[Verifier.rtolKey].flatMap(Double.init) ?? 0)
    }

    /// The checks of ``Verifier/verify(document:path:format:parseDetail:options:)`` with `--against` the file
    /// a conversion read, run on a model streamed from its file: architecture and shapes, finite values, the
    /// probes against the outputs stored with them, and the same outputs against the reference's stored probe
    /// outputs (the reference's own recorded tolerance applies too). Every tensor is read once (optimizer
    /// slots too, so that their checksums are verified).
    ///
    /// - Parameters:
    ///   - reference: the probes and metadata of the model the file was converted from, and its path.
    /// - Throws: what reading a tensor throws (a file that cannot be read whole, as a full read would throw).
    public static func verify(_ model: StreamedModel, path: String, format: String, parseDetail: String,
                              reference: (probes: Probes?, metadata: [String: String], path: String)) throws -> VerifyReport {
        var report = VerifyReport(passed: true, model: path, format: format, against: reference.path,
                                  checks: [CheckResult(name: "parse", status: .pass, detail: parseDetail)])
        let outputCount: Int
        do {
            try model.checkParameters()
            outputCount = try model.architecture.outputShape().count
            report.add("architecture", .pass, "\(model.architecture.layers.count) layers, \(model.parameters.count) tensors with the shapes the architecture implies")
        } catch {
            report.add("architecture", .fail, "\(error)")
            return report
        }
        let probes = model.probes ?? reference.probes
        let inputs = try probes.map(\.inputs) ?? Tensor(zeros: [0] + model.architecture.activationShapes()[0].dimensions)
        let run = try Self.run(model, inputs: inputs)
        for slot in model.slots { _ = try model.fetch(slot) }

        let total = run.valueCounts.reduce(0) { $0 + $1.count }, bad = run.valueCounts.filter { $0.nonFinite > 0 }
        if bad.isEmpty {
            report.add("finite", .pass, "\(total) values, none NaN or infinite")
        } else {
            report.add("finite", .fail, bad.map { "\($0.name): \($0.nonFinite) of \($0.count) values NaN or infinite" }.joined(separator: "; "))
        }

        let tolerance = recordedTolerance(model.metadata)
        if let stored = model.probes {
            guard run.outputs.count == stored.outputs.scalars.count else {
                report.add("probes", .fail, "stored outputs have shape \(stored.outputs.shape), the model gives \(run.outputs.count) values")
                return report
            }
            let c = OutputComparison(actual: run.outputs, reference: stored.outputs.scalars, width: outputCount, tolerance: tolerance)
            report.comparison = c
            report.add("probes", c.passed ? .pass : .fail, Verifier.describe(c, what: "\(stored.count) probes (\(stored.source))"))
            if !c.passed, let trace = storedTrace(model.metadata) {
                report.firstDivergingLayer = Verifier.firstDivergingLayer(now: run.trace, stored: trace, tolerance: tolerance)
            }
        } else {
            report.add("probes", .skip, "the file stores no probes")
        }

        guard let expected = reference.probes, let probes, expected.inputs == probes.inputs else {
            report.add("against", .skip, "no inputs to compare on: the files do not share probes")
            return report
        }
        guard expected.outputs.scalars.count == run.outputs.count else {
            report.add("against", .fail, "\(reference.path) gives \(expected.outputs.scalars.count) outputs on the probes; this model gives \(run.outputs.count)")
            return report
        }
        let recorded = [tolerance, recordedTolerance(reference.metadata)]
        let combined = Tolerance(atol: recorded.map(\.atol).max() ?? 0, rtol: recorded.map(\.rtol).max() ?? 0)
        let source = model.probes == nil ? "probes of \(reference.path)" : "probes of the model"
        let c = OutputComparison(actual: run.outputs, reference: expected.outputs.scalars, width: outputCount, tolerance: combined)
        report.comparison = c
        report.add("against", c.passed ? .pass : .fail, Verifier.describe(c, what: "\(c.count) inputs (\(source)) against \(reference.path)"))
        if !c.passed, let trace = storedTrace(reference.metadata) {
            report.firstDivergingLayer = Verifier.firstDivergingLayer(now: run.trace, stored: trace, tolerance: combined)
        }
        return report
    }

    /// The probe trace stored in metadata, if readable.
    static func storedTrace(_ metadata: [String: String]) -> ProbeTrace? {
        guard let text = metadata[ProbeTrace.metadataKey] else { return nil }
        return try? JSONDecoder().decode(ProbeTrace.self, from: Data(text.utf8))
    }
}

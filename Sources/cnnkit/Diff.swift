import ArgumentParser
import ConvNet
import Foundation
import ModelArchive
import ModelFiles

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two model files: architecture, tensors, and the training state (optimizer, slots, counters).",
        discussion: """
        Exit 0 when architectures, tensors and training states are bitwise equal, 1 when anything differs \
        (a file and its --weights-only copy differ: one has no training state). Probes and metadata are not compared.
        """)

    @Argument(help: "The first model file.")
    var a: String

    @Argument(help: "The second model file.")
    var b: String

    @OptionGroup var architectureOption: ArchitectureOption

    @OptionGroup var output: JSONOption

    func run() throws {
        try reportingErrors(checking: a, b, architectureOption.architecture) {
            let left = try loadDocument(a, architecture: architectureOption.architecture), right = try loadDocument(b, architecture: architectureOption.architecture)
            let report = DiffReport(a: left, b: right, pathA: a, pathB: b)
            if output.json {
                print(jsonLine(report))
            } else {
                for line in report.architectureDifferences { print("architecture: \(line)") }
                for name in report.onlyInA { print("only in \(a): \(name)") }
                for name in report.onlyInB { print("only in \(b): \(name)") }
                for t in report.tensors where !t.equal {
                    if let shapes = t.shapeDifference { print("\(t.name): shapes differ: \(shapes)"); continue }
                    print(String(format: "%@: %d of %d values differ, max abs %.3g, max rel %.3g", t.name, t.differing, t.count, t.maxAbsDifference, t.maxRelDifference))
                }
                for line in report.trainingStateDifferences ?? [] { print("training state: \(line)") }
                print(report.passed ? "identical: architecture, \(report.tensors.count) tensors and \(report.trainingStateSummary) are bitwise equal" : "models differ")
            }
            if !report.passed { throw ExitCode(Exit.checksFailed) }
        }
    }
}

/// The result of `cnnkit diff` (`Schemas/diff-report.schema.json`).
struct DiffReport: Encodable {
    struct TensorDifference: Encodable {
        var name: String
        var equal: Bool
        var count: Int
        var differing: Int
        var maxAbsDifference: Double
        var maxRelDifference: Double
        var shapeDifference: String?

        enum CodingKeys: String, CodingKey {
            case name, equal, count, differing, maxAbsDifference = "max_abs_difference", maxRelDifference = "max_rel_difference", shapeDifference = "shape_difference"
        }
    }

    var passed: Bool
    var architectureDifferences: [String]
    var onlyInA: [String]
    var onlyInB: [String]
    var tensors: [TensorDifference]
    /// What differs in the training states: presence, optimizer settings, counters, RNG, history, data, slot
    /// tensors. Nil, and left out of the JSON, when there are none (the states are equal, or neither file has one).
    var trainingStateDifferences: [String]?
    /// The training state as the final line names it when nothing differs.
    var trainingStateSummary: String

    enum CodingKeys: String, CodingKey {
        case passed, architectureDifferences = "architecture_differences", onlyInA = "only_in_a", onlyInB = "only_in_b", tensors,
             trainingStateDifferences = "training_state_differences"
    }

    init(a: ModelDocument, b: ModelDocument, pathA: String, pathB: String) {
        var arch: [String] = []
        if a.architecture.input != b.architecture.input { arch.append("input \(a.architecture.input) vs \(b.architecture.input)") }
        if a.architecture.preprocessing != b.architecture.preprocessing {
            arch.append("preprocessing scale \(a.architecture.preprocessing.scale) offset \(a.architecture.preprocessing.offset) vs scale \(b.architecture.preprocessing.scale) offset \(b.architecture.preprocessing.offset)")
        }
        let la = a.architecture.layers, lb = b.architecture.layers
        for i in 0..<max(la.count, lb.count) {
            let x = i < la.count ? layerText(la[i]) : "(none)", y = i < lb.count ? layerText(lb[i]) : "(none)"
            if x != y { arch.append("layer \(i): \(x) vs \(y)") }
        }
        architectureDifferences = arch
        (onlyInA, onlyInB, tensors) = DiffReport.compare(a.tensors, b.tensors)
        let (stateDifferences, summary) = DiffReport.compare(a.trainingState, b.trainingState, pathA: pathA, pathB: pathB)
        (trainingStateDifferences, trainingStateSummary) = (stateDifferences.isEmpty ? nil : stateDifferences, summary)
        passed = arch.isEmpty && onlyInA.isEmpty && onlyInB.isEmpty && tensors.allSatisfy(\.equal) && stateDifferences.isEmpty
    }

    /// Names only in `a`, only in `b`, and the comparison of each common tensor, bit for bit.
    static func compare(_ a: [NamedTensor], _ b: [NamedTensor]) -> ([String], [String], [TensorDifference]) {
        let namesB = Set(b.map(\.name)), namesA = Set(a.map(\.name))
        let onlyInA = a.map(\.name).filter { !namesB.contains($0) }
        let onlyInB = b.map(\.name).filter { !namesA.contains($0) }
        let byName = Dictionary(b.map { ($0.name, $0.tensor) }, uniquingKeysWith: { x, _ in x })
        let tensors: [TensorDifference] = a.compactMap { named in
            guard let other = byName[named.name] else { return nil }
            let x = named.tensor, y = other
            guard x.shape == y.shape else {
                return TensorDifference(name: named.name, equal: false, count: x.count, differing: x.count, maxAbsDifference: .infinity,
                                        maxRelDifference: .infinity, shapeDifference: "\(x.shape) vs \(y.shape)")
            }
            var differing = 0, maxAbs = 0.0, maxRel = 0.0
            for (p, q) in zip(x.scalars, y.scalars) where p.bitPattern != q.bitPattern {
                differing += 1
                let d = abs(Double(p) - Double(q))
                let dd = d.isNaN ? Double.infinity : d
                maxAbs = max(maxAbs, dd)
                maxRel = max(maxRel, q == 0 ? .infinity : dd / abs(Double(q)))
            }
            return TensorDifference(name: named.name, equal: differing == 0, count: x.count, differing: differing,
                                    maxAbsDifference: maxAbs, maxRelDifference: maxRel, shapeDifference: nil)
        }
        return (onlyInA, onlyInB, tensors)
    }

    /// The differences between two training states, one line each, and how an equal state is named.
    static func compare(_ a: TrainingState?, _ b: TrainingState?, pathA: String, pathB: String) -> ([String], String) {
        switch (a, b) {
        case (nil, nil):
            return ([], "no training state (neither file has one)")
        case let (a?, nil):
            return (["only \(pathA) has one (\(describe(a))); \(pathB) holds weights only"], "")
        case let (nil, b?):
            return (["only \(pathB) has one (\(describe(b))); \(pathA) holds weights only"], "")
        case let (a?, b?):
            var lines: [String] = []
            func field<T: Equatable>(_ name: String, _ x: T, _ y: T) {
                if x != y { lines.append("\(name) \(x) vs \(y)") }
            }
            let p = a.optimizer, q = b.optimizer
            field("optimizer", p.kind.rawValue, q.kind.rawValue)
            field("learning rate", "\(p.learningRate)", "\(q.learningRate)")
            if p.kind == .sgd || q.kind == .sgd {
                field("momentum", "\(p.momentum)", "\(q.momentum)")
                field("nesterov", p.nesterov, q.nesterov)
            }
            if p.kind == .adam || q.kind == .adam {
                field("beta1", "\(p.beta1)", "\(q.beta1)")
                field("beta2", "\(p.beta2)", "\(q.beta2)")
                field("epsilon", "\(p.epsilon)", "\(q.epsilon)")
            }
            field("epoch", a.epoch, b.epoch)
            field("step", a.step, b.step)
            field("position", a.position, b.position)
            field("batch size", a.batchSize, b.batchSize)
            field("seed", a.seed, b.seed)
            if a.rngState != b.rngState { lines.append("RNG state differs") }
            if a.epochLossSum.bitPattern != b.epochLossSum.bitPattern || a.epochCorrect != b.epochCorrect {
                lines.append("running epoch totals differ (loss sum \(a.epochLossSum) vs \(b.epochLossSum), correct \(a.epochCorrect) vs \(b.epochCorrect))")
            }
            if a.history != b.history { lines.append("history differs (\(a.history.count) vs \(b.history.count) epochs recorded)") }
            if a.curve != b.curve { lines.append("training curve differs (\(a.curve.count) vs \(b.curve.count) points recorded)") }
            if a.dataset != b.dataset {
                func data(_ d: DatasetIdentity?) -> String { d.map { "\($0.trainCount) examples, \($0.fingerprint)" } ?? "none recorded" }
                lines.append("data \(data(a.dataset)) vs \(data(b.dataset))")
            }
            let (onlyA, onlyB, slots) = compare(a.slots, b.slots)
            for name in onlyA { lines.append("slot only in \(pathA): \(name)") }
            for name in onlyB { lines.append("slot only in \(pathB): \(name)") }
            for t in slots where !t.equal {
                lines.append(t.shapeDifference.map { "\(t.name): shapes differ: \($0)" }
                    ?? String(format: "%@: %d of %d values differ, max abs %.3g, max rel %.3g", t.name, t.differing, t.count, t.maxAbsDifference, t.maxRelDifference))
            }
            return (lines, "the training state (\(describe(a)))")
        }
    }

    static func describe(_ s: TrainingState) -> String {
        "\(s.optimizer.kind.rawValue), epoch \(s.epoch), step \(s.step), \(s.slots.count) slot tensors"
    }
}

/// A layer as one line: type and options.
func layerText(_ layer: Layer) -> String {
    switch layer.kind {
    case let .conv2d(s): "\(layer.name) conv2d \(s.filters) filters \(s.kernel[0])x\(s.kernel[1]) stride \(s.stride[0])x\(s.stride[1]) \(s.padding.rawValue)\(s.bias ? " bias" : "")"
    case .relu: "\(layer.name) relu"
    case let .maxPool2d(s): "\(layer.name) maxpool2d \(s.pool[0])x\(s.pool[1]) stride \(s.stride[0])x\(s.stride[1]) \(s.padding.rawValue)"
    case .flatten: "\(layer.name) flatten"
    case let .dense(s): "\(layer.name) dense \(s.units)\(s.bias ? " bias" : "")"
    case .softmax: "\(layer.name) softmax"
    }
}

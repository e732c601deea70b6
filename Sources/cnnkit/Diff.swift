import ArgumentParser
import ConvNet
import Foundation
import ModelArchive
import ModelFiles

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two model files: architecture, tensors only in one, and per-tensor differences.",
        discussion: "Exit 0 when architectures and tensors are bitwise equal, 1 when they differ.")

    @Argument(help: "The first model file.")
    var a: String

    @Argument(help: "The second model file.")
    var b: String

    @OptionGroup var architectureOption: ArchitectureOption

    @OptionGroup var output: JSONOption

    func run() throws {
        try reportingErrors {
            try checkInputs(a, b, architectureOption.architecture)
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
                print(report.passed ? "identical: architecture and \(report.tensors.count) tensors are bitwise equal" : "models differ")
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

    enum CodingKeys: String, CodingKey {
        case passed, architectureDifferences = "architecture_differences", onlyInA = "only_in_a", onlyInB = "only_in_b", tensors
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
        let namesB = Set(b.tensors.map(\.name)), namesA = Set(a.tensors.map(\.name))
        onlyInA = a.tensors.map(\.name).filter { !namesB.contains($0) }
        onlyInB = b.tensors.map(\.name).filter { !namesA.contains($0) }
        let byName = Dictionary(b.tensors.map { ($0.name, $0.tensor) }, uniquingKeysWith: { x, _ in x })
        tensors = a.tensors.compactMap { named in
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
        passed = arch.isEmpty && onlyInA.isEmpty && onlyInB.isEmpty && tensors.allSatisfy(\.equal)
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

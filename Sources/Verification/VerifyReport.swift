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
    /// The accuracy the model must reach: `--min-accuracy`, or the reference less the allowed drop.
    public var required: Double?
    /// Where ``required`` comes from (`--min-accuracy`, the file's training history, the other model).
    public var requiredSource: String?

    enum CodingKeys: String, CodingKey {
        case count, accuracy, otherAccuracy = "other_accuracy", agreement, required, requiredSource = "required_source"
    }
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

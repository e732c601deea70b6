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
    /// The check's name (`parse`, `digests`, ...).
    public var name: String
    /// Passed, failed or skipped.
    public var status: CheckStatus
    /// What the check found, one line.
    public var detail: String

    /// A check's result.
    public init(name: String, status: CheckStatus, detail: String) {
        self.name = name
        self.status = status
        self.detail = detail
    }
}

/// Accuracy on labelled data, and how often the two models agree (`--data`).
public struct AccuracyReport: Codable, Sendable, Hashable {
    /// Examples evaluated.
    public var count: Int
    /// The model's accuracy on them.
    public var accuracy: Double
    /// The other model's accuracy, with `against`.
    public var otherAccuracy: Double?
    /// The fraction of examples on which both models predict the same label, with `against`.
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
    /// True when no check failed.
    public var passed: Bool
    /// The model's path as given.
    public var model: String
    /// The model's detected format.
    public var format: String
    /// The other model's path, with `against`.
    public var against: String?
    /// Every check, in the order of `Documentation/cli.md` section 3.1.
    public var checks: [CheckResult]
    /// The probe rerun (or the comparison with the other model), when one ran.
    public var comparison: OutputComparison?
    /// On failure: the first layer whose activations diverge, when it can be told.
    public var firstDivergingLayer: String?
    /// With data: the accuracy and, with `against`, the agreement.
    public var accuracy: AccuracyReport?

    enum CodingKeys: String, CodingKey {
        case passed, model, format, against, checks, comparison, firstDivergingLayer = "first_diverging_layer", accuracy
    }

    /// Appends a check; a failure fails the report.
    mutating func add(_ name: String, _ status: CheckStatus, _ detail: String) {
        checks.append(CheckResult(name: name, status: status, detail: detail))
        if status == .fail { passed = false }
    }

    /// A report with its checks.
    public init(passed: Bool, model: String, format: String, against: String?, checks: [CheckResult]) {
        self.passed = passed
        self.model = model
        self.format = format
        self.against = against
        self.checks = checks
    }
}

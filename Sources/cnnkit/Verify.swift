import ArgumentParser
import ConvNet
import Datasets
import Foundation
import ModelArchive
import ModelFiles
import Verification

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a model file: structure, checksums, finite values, and that its probes reproduce.",
        discussion: """
        Exit 0 when every check passes, 1 when the file reads cleanly but its numbers fail, 65 when it cannot be \
        read whole (broken structure, checksum mismatch). Pass rule per value: |a - b| <= atol + rtol * |b|; \
        the default is exact equality, or the bound a lossy conversion recorded in the file.
        """)

    @Argument(help: "The model file.")
    var model: String

    @Option(help: "Compare with this model file on the same inputs.")
    var against: String?

    @Option(help: "Raw-pixel inputs (IDX or .npy, N x H x W (x C)) to compare on instead of the probes.")
    var inputs: String?

    @Option(help: "Folder of IDX data: adds accuracy (and agreement with --against) on its test set.")
    var data: String?

    @Option(parsing: .unconditional, help: "Use the first N examples of --data.")
    var limit: Int?

    @Option(parsing: .unconditional, help: "With --data: the accuracy (0-1) the model must reach.")
    var minAccuracy: Double?

    @Option(parsing: .unconditional, help: "With --data: how far (0-1) the accuracy may fall below the file's recorded test accuracy (default: 3 standard errors, at least 0.01).")
    var accuracyDrop: Double?

    @Option(parsing: .unconditional, help: "Absolute tolerance.")
    var atol: Double?

    @Option(parsing: .unconditional, help: "Relative tolerance.")
    var rtol: Double?

    @OptionGroup var architectureOption: ArchitectureOption

    @OptionGroup var output: JSONOption

    func validate() throws {
        try OptionCheck.atLeast(0.0, atol, "--atol")
        try OptionCheck.atLeast(0.0, rtol, "--rtol")
        try OptionCheck.atLeast(1, limit, "--limit")
        if limit != nil && data == nil { throw ValidationError("--limit needs --data DIR") }
        try OptionCheck.atLeast(0.0, minAccuracy, "--min-accuracy")
        try OptionCheck.atLeast(0.0, accuracyDrop, "--accuracy-drop")
        if let minAccuracy, minAccuracy > 1 { throw ValidationError("--min-accuracy is a fraction from 0 to 1, found \(minAccuracy)") }
        if (minAccuracy != nil || accuracyDrop != nil) && data == nil { throw ValidationError("--min-accuracy and --accuracy-drop need --data DIR") }
    }

    func run() throws {
        try reportingErrors(checking: model, against, inputs, architectureOption.architecture) {
            let progress = StageProgress(command: "verify", json: output.json)
            defer { progress.finish() }
            progress.stage("opening \(model)")
            let format = try ModelFiles.format(of: model)
            /// A file that cannot be read whole: a failed parse check, exit 65.
            func unreadable(_ error: ModelFileError) -> ExitCode {
                progress.finish()
                emit(VerifyReport(passed: false, model: model, format: format.rawValue, against: against,
                                  checks: [CheckResult(name: "parse", status: .fail, detail: error.description)]))
                printError(error.description)
                return ExitCode(Exit.dataError)
            }
            let opened: OpenedModel
            do {
                opened = try openModel(model, architecture: architectureOption.architecture)
            } catch let error as ModelFileError where error.category == .invalidInput {
                throw unreadable(error)
            }
            var options = VerifyOptions()
            if atol != nil || rtol != nil { options.tolerance = Tolerance(atol: atol ?? 0, rtol: rtol ?? 0) }
            if let against {
                options.against = (try openModel(against, architecture: architectureOption.architecture).model, against)
            }
            if let inputs {
                let shape = try opened.model.architecture.activationShapes()[0]
                let images = try loadImages(inputs, shape: shape, preprocessing: opened.model.architecture.preprocessing)
                options.inputs = Tensor(shape: [images.count, shape.height, shape.width, shape.channels], scalars: images.values)
            }
            if let data { options.data = try FashionMNIST.load(directory: data, split: .test, limit: limit) }
            options.minAccuracy = minAccuracy
            options.accuracyDrop = accuracyDrop
            let report: VerifyReport
            progress.stage("verifying \(model)")
            do {
                report = try Verifier.verify(progress.counting(opened.model), path: model, format: format.rawValue, parseDetail: opened.integrity, options: options)
            } catch let error as ModelFileError where error.category == .invalidInput {
                throw unreadable(error)
            }
            progress.finish()
            emit(report)
            // A digest mismatch is a checksum mismatch: the file's values are not the ones it was saved with.
            if report.checks.contains(where: { $0.name == "digests" && $0.status == .fail }) { throw ExitCode(Exit.dataError) }
            if !report.passed { throw ExitCode(Exit.checksFailed) }
        }
    }

    func emit(_ report: VerifyReport) {
        if output.json {
            print(jsonLine(report))
            return
        }
        for check in report.checks {
            print("\(check.status.rawValue)  \(check.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(check.detail)")
        }
        if let layer = report.firstDivergingLayer { print("first diverging layer: \(layer)") }
        print(report.passed ? "verified: \(report.model)" : "FAILED: \(report.model)")
    }
}

import ArgumentParser
import ConvNet
import Foundation
import ModelArchive
import ModelFiles
import Verification

extension ModelFormat: ExpressibleByArgument {
    public init?(argument: String) {
        guard let format = ModelFiles.format(named: argument) else { return nil }
        self = format.format
    }

    public static var allValueStrings: [String] { ModelFiles.formats.map(\.format.rawValue) }
}
extension StorageDType: ExpressibleByArgument {}

/// `--compression` choices.
enum CompressionChoice: String, ExpressibleByArgument, CaseIterable {
    case none
    case deflate
}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a model file to another format, then reopen the output and verify it on the probes.",
        discussion: """
        The input format is detected from its bytes; the output's comes from --to or its extension. Probes are \
        carried over (or recorded on deterministic pseudo-random images when the input has none). A lossy \
        --dtype records the tolerance the output guarantees on the probes.
        """)

    @Argument(help: "The input model file.")
    var input: String

    @Argument(help: "The output file.")
    var output: String

    @Option(help: "Output format: \(ModelFormat.allValueStrings.joined(separator: ", ")) (default: from the extension).")
    var to: ModelFormat?

    @Option(help: "Storage precision of weights: float32, float16 or bfloat16 (lossy below float32; CNNZ only).")
    var dtype: StorageDType = .float32

    @Option(help: "none or deflate (HDF5: shuffle + deflate + Fletcher-32 chunks; CNNZ: shuffle-deflate).")
    var compression: CompressionChoice?

    @Option(help: "zlib level 0-9 for --compression deflate.")
    var level: Int = 6

    @Flag(help: "Drop the training state (optimizer slots, counters, history).")
    var weightsOnly = false

    @OptionGroup var architectureOption: ArchitectureOption

    @Flag(help: "Skip reopening and verifying the output.")
    var noVerify = false

    func validate() throws {
        guard (0...9).contains(level) else { throw ValidationError("--level must be 0 to 9, found \(level)") }
    }

    func run() throws {
        try reportingErrors {
            try checkInputs(input, architectureOption.architecture)
            let request = ConversionRequest(input: input, output: output, format: to, dtype: dtype, compression: compression, level: level,
                                            weightsOnly: weightsOnly, architecture: try architectureOption.load(), verify: !noVerify)
            let result = try convertModel(request)
            for line in result.lines { print(line) }
            if let report = result.report, !report.passed { throw ExitCode(Exit.checksFailed) }
        }
    }
}

/// One conversion, as `cnnkit convert` and the demo ask for it.
struct ConversionRequest {
    var input: String
    var output: String
    var format: ModelFormat?
    var dtype: StorageDType = .float32
    var compression: CompressionChoice?
    var level: Int = 6
    var weightsOnly = false
    var architecture: Architecture?
    var verify = true
}

/// Converts a file through ``ModelFiles/convert(_:to:options:)`` (streaming between HDF5 and CNNZ), carrying
/// probes over (recording them when the input has none), then reopening the output and verifying it against the
/// input. Returns the lines to print and the verification report.
func convertModel(_ r: ConversionRequest) throws -> (lines: [String], report: VerifyReport?) {
    let inFormat = try ModelFiles.format(of: r.input)
    if let warning = ModelFiles.extensionWarning(path: r.input, format: inFormat) { printError("warning: " + warning) }
    var options = SaveOptions(format: r.format, dtype: r.dtype, weightsOnly: r.weightsOnly)
    let out = ModelFiles.outputFormat(path: r.output, options: options), outFormat = out.format
    options.compress = (r.compression ?? (out.capabilities.compressesByDefault ? .deflate : .none)) == .deflate
    options.level = r.level
    // A write-only format (ONNX) cannot be reopened here (onnxruntime checks it in Tests/Interop).
    let reverify = r.verify && out.capabilities.reads
    let result = try ModelFiles.convert(r.input, to: r.output, options: ConversionOptions(
        save: options, architecture: r.architecture, verify: reverify, beforeWriting: { try checkWritable(r.output) }))
    var lines = ["converted \(r.input) (\(inFormat.rawValue), \(fileSize(r.input)) bytes) -> \(r.output) (\(outFormat.rawValue)"
        + (r.dtype == .float32 ? "" : " " + r.dtype.rawValue) + ", \(fileSize(r.output)) bytes), \(result.tensorCount) tensors"
        + (r.weightsOnly || (!out.capabilities.trainingState && result.hadTrainingState) ? ", training state dropped"
            : result.hadTrainingState ? " and the training state" : "")]
    if !out.capabilities.reads && r.verify {
        lines.append("not reverified: ONNX files are write-only here; run them with onnxruntime (input 'images' raw pixels NHWC, output 'probabilities')")
    }
    guard let report = result.report else { return (lines, nil) }
    if report.passed {
        lines.append("verified \(r.output): " + (report.checks.first { $0.name == "against" }?.detail ?? "probes reproduce"))
    } else {
        for check in report.checks where check.status == .fail { lines.append("FAIL  \(check.name) \(check.detail)") }
        if let layer = report.firstDivergingLayer { lines.append("first diverging layer: \(layer)") }
    }
    return (lines, report)
}

func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.intValue ?? 0
}

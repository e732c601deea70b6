import ArgumentParser
import ConvNet
import Datasets
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


struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a model file to another format, then reopen the output and verify it on the probes.",
        discussion: """
        The input format is detected from its bytes; the output's comes from --to or its extension (a name whose \
        extension names no format needs --to; --to that contradicts the extension warns). Options the output \
        format would ignore are refused: --compression deflate where it has no compression, --compression zstd \
        for any output but CNNZ, --level where nothing is compressed. Probes are \
        carried over (or recorded on deterministic pseudo-random images when the input has none). A lossy \
        --dtype records the tolerance the output guarantees on the probes.
        """)

    @Argument(help: "The input model file.")
    var input: String

    @Argument(help: "The output file.")
    var output: String

    @Option(help: "Output format: \(ModelFormat.allValueStrings.joined(separator: ", ")) (default: from the extension).")
    var to: ModelFormat?

    @Option(help: "Storage precision of weights: float32, float64 (exact, twice the size), float16 or bfloat16 (lossy); all but float32 CNNZ only.")
    var dtype: StorageDType = .float32

    @OptionGroup var compressionOption: CompressionOption

    @Flag(help: "Drop the training state (optimizer slots, counters, history).")
    var weightsOnly = false

    @OptionGroup var architectureOption: ArchitectureOption

    @Option(help: ArgumentHelp("Preprocessing x * SCALE + OFFSET for an input without any (a PyTorch state dict or an ONNX graph without Sub/Div/Mul sees pixels as stored), e.g. 0.00392156863,-0.5.",
                               valueName: "scale,offset"))
    var preprocessing: String?

    @Flag(help: "Skip reopening and verifying the output.")
    var noVerify = false

    func validate() throws {
        try compressionOption.validate(output: output, to: to, compressByDefault: true)
        _ = try parsedPreprocessing()
    }

    /// `--preprocessing SCALE,OFFSET`: two finite numbers, the scale not zero.
    func parsedPreprocessing() throws -> Preprocessing? {
        guard let text = preprocessing else { return nil }
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let scale = parts[0], let offset = parts[1], scale.isFinite, offset.isFinite, scale != 0 else {
            throw ValidationError("--preprocessing '\(text)': expected SCALE,OFFSET, two finite numbers with SCALE not 0 (e.g. 0.00392156863,-0.5 for pixel / 255 - 0.5)")
        }
        return Preprocessing(scale: scale, offset: offset)
    }

    func run() throws {
        try reportingErrors(checking: input, architectureOption.architecture) {
            let request = ConversionRequest(input: input, output: output, format: to, dtype: dtype, compression: compressionOption.compression, level: compressionOption.level,
                                            weightsOnly: weightsOnly, architecture: try architectureOption.load(), preprocessing: try parsedPreprocessing(),
                                            verify: !noVerify)
            let progress = StageProgress(command: "convert")
            defer { progress.finish() }
            progress.stage("reading \(input)")
            let result = try convertModel(request, progress: progress)
            progress.finish()
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
    /// nil: the compressor's default level (zlib 6, zstd 1).
    var level: Int?
    var weightsOnly = false
    var architecture: Architecture?
    var preprocessing: Preprocessing?
    var verify = true
}

/// Converts a file through ``ModelFiles/convert(_:to:options:)`` (streaming wherever both formats stream), carrying
/// probes over (recording them when the input has none), then reopening the output and verifying it against the
/// input. Returns the lines to print and the verification report.
///
/// - Parameter progress: told when writing starts (the line on a terminal).
func convertModel(_ r: ConversionRequest, progress: StageProgress? = nil) throws -> (lines: [String], report: VerifyReport?) {
    let inFormat = try ModelFiles.format(of: r.input)
    if let warning = ModelFiles.extensionWarning(path: r.input, format: inFormat) { printError("warning: " + warning) }
    var options = SaveOptions(format: r.format, dtype: r.dtype, weightsOnly: r.weightsOnly)
    let out = try checkOutputFormat(r)
    let outFormat = out.format
    try CompressionOption.apply(r.compression, level: r.level, to: &options, format: out, output: r.output, compressByDefault: true)
    // A write-only format (ONNX) cannot be reopened here (onnxruntime checks it in Tests/Interop).
    let reverify = r.verify && out.capabilities.reads
    let result = try ModelFiles.convert(r.input, to: r.output, options: ConversionOptions(
        save: options, architecture: r.architecture, preprocessing: r.preprocessing, verify: reverify, beforeWriting: {
            try checkWritable(r.output)
            progress?.stage("writing \(r.output)" + (reverify ? ", then verifying it" : ""))
        },
        probeImages: fashionMNISTProbes))
    var lines = ["converted \(r.input) (\(inFormat.rawValue), \(fileSize(r.input)) bytes) -> \(r.output) (\(outFormat.rawValue)"
        + (r.dtype == .float32 ? "" : " " + r.dtype.rawValue) + ", \(fileSize(r.output)) bytes), \(result.tensorCount) tensors"
        + (r.weightsOnly || (!out.capabilities.trainingState && result.hadTrainingState) ? ", training state dropped"
            : result.hadTrainingState ? " and the training state" : "")]
    if let inferred = result.inferredArchitecture {
        lines.append("architecture inferred (recorded in the metadata): \(inferred)")
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

/// The output format of a conversion, refusing what it cannot tell or would ignore (exit 64): a name whose
/// extension names no format without --to, a compression the format does not write, --level where nothing is
/// compressed or out of the compressor's range. Warns when --to contradicts the extension.
func checkOutputFormat(_ r: ConversionRequest) throws -> any ModelFileFormat {
    let byName = ModelFiles.formatFromExtension(of: r.output)
    let choices = ModelFiles.formats.filter(\.capabilities.writes).map(\.format.rawValue).joined(separator: ", ")
    guard let out = r.format.flatMap({ ModelFiles.format(named: $0.rawValue) }) ?? byName else {
        throw CLIError.usage("\(r.output): \(extensionText(r.output)) does not tell the output format; give --to (\(choices)) or name the file with one of \(knownExtensions)")
    }
    if let byName, byName.format != out.format {
        printError("warning: \(r.output): the extension says \(byName.format.rawValue) but --to writes \(out.format.rawValue); tools that go by the name will misread it")
    }
    var options = SaveOptions()
    try CompressionOption.apply(r.compression, level: r.level, to: &options, format: out, output: r.output, compressByDefault: true)
    return out
}

func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.intValue ?? 0
}

/// Probe images from Fashion-MNIST's test set (the first 8, raw pixels) for a model whose input is 28 x 28 x 1,
/// when the data set is installed where Debian puts it: real images drive the units a model uses, where random
/// noise can leave some inactive and let an edit to them pass unnoticed.
func fashionMNISTProbes(_ shape: ActivationShape) -> (inputs: Tensor, source: String)? {
    guard shape == ActivationShape(height: 28, width: 28, channels: 1),
          let test = try? FashionMNIST.load(directory: FashionMNIST.defaultDirectory, split: .test, limit: 8) else { return nil }
    let inputs = Probes.inputs(from: test, count: 8)
    return (inputs, "fashion-mnist:t10k[0..<\(inputs.shape[0])]")
}

import ArgumentParser
import ConvNet
import Foundation
import ModelArchive
import ModelFiles
import Verification

extension ModelFormat: ExpressibleByArgument {}
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

    @Option(help: "Output format: \(ModelFormat.allCases.map(\.rawValue).joined(separator: ", ")) (default: from the extension).")
    var to: ModelFormat?

    @Option(help: "Storage precision of weights: float32, float16 or bfloat16 (lossy below float32; CNNZ only).")
    var dtype: StorageDType = .float32

    @Option(help: "none or deflate (HDF5: shuffle + deflate + Fletcher-32 chunks; CNNZ: shuffle-deflate).")
    var compression: CompressionChoice?

    @Option(help: "zlib level 0-9 for --compression deflate.")
    var level: Int = 6

    @Flag(help: "Drop the training state (optimizer slots, counters, history).")
    var weightsOnly = false

    @Option(help: "Architecture JSON for inputs that carry none (Keras .weights.h5).")
    var architecture: String?

    @Flag(help: "Skip reopening and verifying the output.")
    var noVerify = false

    func validate() throws {
        guard (0...9).contains(level) else { throw ValidationError("--level must be 0 to 9, found \(level)") }
    }

    func run() throws {
        try reportingErrors {
            let request = ConversionRequest(input: input, output: output, format: to, dtype: dtype, compression: compression, level: level,
                                            weightsOnly: weightsOnly, architecture: try architecture.map(loadArchitecture), verify: !noVerify)
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

/// Converts a file, carrying probes over (recording them when the input has none), then reopens the output and
/// verifies it against the input. Returns the lines to print and the verification report.
func convertModel(_ r: ConversionRequest) throws -> (lines: [String], report: VerifyReport?) {
    let inFormat = try ModelFiles.format(of: r.input)
    if let warning = ModelFiles.extensionWarning(path: r.input, format: inFormat) { printError("warning: " + warning) }
    var document = try ModelFiles.load(r.input, architecture: r.architecture)
    let network = try document.network()
    if document.probes == nil {
        let inputs = Probes.randomInputs(shape: network.shapes[0], count: 4, seed: 0)
        document = try ModelDocument.recording(network: network, probeInputs: inputs, source: "random:seed=0",
                                               trainingState: document.trainingState, metadata: document.metadata)
    } else if ProbeTrace.stored(in: document) == nil, let probes = document.probes {
        document.metadata[ProbeTrace.metadataKey] = try ProbeTrace(network: network, inputs: probes.inputs).jsonString()
    }
    try checkWritable(r.output)
    var options = SaveOptions(format: r.format, dtype: r.dtype, weightsOnly: r.weightsOnly)
    let outFormat = ModelFiles.outputFormat(path: r.output, options: options)
    options.compress = (r.compression ?? (outFormat == .cnnz ? .deflate : .none)) == .deflate
    options.level = r.level
    try ModelFiles.save(document, to: r.output, options: options)
    var lines = ["converted \(r.input) (\(inFormat.rawValue), \(fileSize(r.input)) bytes) -> \(r.output) (\(outFormat.rawValue)"
        + (r.dtype == .float32 ? "" : " " + r.dtype.rawValue) + ", \(fileSize(r.output)) bytes), \(document.tensors.count) tensors"
        + (r.weightsOnly ? ", training state dropped" : document.trainingState == nil ? "" : " and the training state")]
    guard r.verify else { return (lines, nil) }
    let reopened = try ModelFiles.load(r.output, architecture: r.architecture)
    let report = Verifier.verify(document: reopened, path: r.output, format: outFormat.rawValue,
                                 parseDetail: ModelFiles.integrityDescription(outFormat),
                                 options: VerifyOptions(against: (document, r.input)))
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

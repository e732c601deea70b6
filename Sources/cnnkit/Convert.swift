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
            let inFormat = try ModelFiles.format(of: input)
            var document = try loadDocument(input, architecture: architecture)
            let network = try document.network()
            if document.probes == nil {
                let inputs = Probes.randomInputs(shape: network.shapes[0], count: 4, seed: 0)
                document = try ModelDocument.recording(network: network, probeInputs: inputs, source: "random:seed=0",
                                                       trainingState: document.trainingState, metadata: document.metadata)
            } else if ProbeTrace.stored(in: document) == nil, let probes = document.probes {
                document.metadata[ProbeTrace.metadataKey] = try ProbeTrace(network: network, inputs: probes.inputs).jsonString()
            }
            try checkWritable(output)
            var options = SaveOptions(format: to, dtype: dtype, weightsOnly: weightsOnly)
            let outFormat = ModelFiles.outputFormat(path: output, options: options)
            options.compress = (compression ?? (outFormat == .cnnz ? .deflate : .none)) == .deflate
            options.level = level
            try ModelFiles.save(document, to: output, options: options)
            let inSize = fileSize(input), outSize = fileSize(output)
            print("converted \(input) (\(inFormat.rawValue), \(inSize) bytes) -> \(output) (\(outFormat.rawValue)\(dtype == .float32 ? "" : " " + dtype.rawValue), \(outSize) bytes), \(document.tensors.count) tensors"
                  + (weightsOnly ? ", training state dropped" : document.trainingState == nil ? "" : " and the training state"))
            guard !noVerify else { return }
            let reopened = try ModelFiles.load(output, architecture: try architecture.map(loadArchitecture))
            let report = Verifier.verify(document: reopened, path: output, format: outFormat.rawValue,
                                         parseDetail: ModelFiles.integrityDescription(outFormat),
                                         options: VerifyOptions(against: (document, input)))
            let against = report.checks.first { $0.name == "against" }
            if report.passed {
                print("verified \(output): " + (against?.detail ?? "probes reproduce"))
            } else {
                for check in report.checks where check.status == .fail { print("FAIL  \(check.name) \(check.detail)") }
                if let layer = report.firstDivergingLayer { print("first diverging layer: \(layer)") }
                throw ExitCode(Exit.checksFailed)
            }
        }
    }
}

func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.intValue ?? 0
}

import ArgumentParser
import ConvNet
import Datasets
import Foundation
import ModelArchive
import ModelFiles
import Report

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML page about a model: architecture, integrity, filters, feature maps, curves, histograms.")

    @Argument(help: "The model file.")
    var model: String

    @Option(name: [.short, .customLong("output")], help: "The HTML file to write.")
    var output: String = "report.html"

    @Option(help: "IDX folder: adds accuracy on its test split, the confusion matrix, the most confident mistakes.")
    var data: String?

    @Option(parsing: .unconditional, help: "With --data: only the first N test examples.")
    var limit: Int?

    @Option(help: "A reference model: per-layer max error, error histogram, error versus reference magnitude.")
    var against: String?

    @OptionGroup var architectureOption: ArchitectureOption

    @OptionGroup var threadsOption: ThreadsOption

    func validate() throws {
        try OptionCheck.atLeast(1, limit, "--limit")
        if limit != nil && data == nil { throw ValidationError("--limit needs --data DIR") }
    }

    func run() throws {
        try reportingErrors(checking: model, against, architectureOption.architecture) {
            _ = try AtomicFile.checkDestination(output)
            let progress = StageProgress(command: "report")
            defer { progress.finish() }
            let content = try collectReport(model: model, data: data, limit: limit, against: against,
                                            architecture: architectureOption.architecture, threads: threadsOption.threads, progress: progress)
            progress.stage("writing \(output)")
            let html = try HTMLPage.render(content, file: output)
            try AtomicFile.write(bytes: Array(html.utf8), to: output)
            progress.finish()
            print("wrote \(output) (\(html.utf8.count) bytes): \(content.layers.count) layers, \(content.filters.count) filter grids, "
                  + "\(content.featureMaps.count) feature map grids, verification \(content.verification.passed ? "passed" : "failed")")
        }
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write one picture of a model as PNG: its filters, its feature maps on the probes, or its training curves.")

    @Argument(help: "What to show.")
    var what: Pictures.Kind

    @Argument(help: "The model file.")
    var model: String

    @Option(name: [.short, .customLong("output")], help: "The PNG file to write.")
    var output: String

    @OptionGroup var architectureOption: ArchitectureOption

    func run() throws {
        try reportingErrors(checking: model, architectureOption.architecture) {
            _ = try AtomicFile.checkDestination(output)
            let progress = StageProgress(command: "show")
            defer { progress.finish() }
            let content = try collectReport(model: model, data: nil, limit: nil, against: nil, architecture: architectureOption.architecture,
                                            threads: 1, progress: progress)
            let image = try Pictures.picture(what, of: content)
            let png: [UInt8]
            do {
                png = try PNGEncoder.encode(image)
            } catch let error as PNGFailure {
                throw ReportError.cannotEncode(file: output, reason: error.reason)
            }
            try AtomicFile.write(bytes: png, to: output)
            progress.finish()
            print("wrote \(output) (\(image.width) x \(image.height) PNG): \(what.rawValue) of \(model)")
        }
    }
}

extension Pictures.Kind: ExpressibleByArgument {}

/// Opens the model (and the reference and data), then collects the report's content, one tensor at a time.
func collectReport(model: String, data: String?, limit: Int?, against: String?, architecture: String?, threads: Int,
                   progress: StageProgress) throws -> ReportContent {
    progress.stage("opening \(model)")
    let opened = try openModel(model, architecture: architecture)
    var options = ReportOptions(threads: threads)
    if let against {
        options.against = (try openModel(against, architecture: architecture).model, against)
    }
    if let data {
        progress.stage("reading \(data)")
        let test = try FashionMNIST.load(directory: data, split: .test, limit: limit)
        options.data = (test, "\(data) (test split, \(test.count) examples)", FashionMNIST.classNames)
    }
    progress.stage("reading and verifying \(model)")
    let facts = ReportContent.FileFacts(path: model, format: opened.format.format.rawValue, formatVersion: opened.reader.formatVersion,
                                        bytes: fileSize(model), integrity: opened.integrity)
    return try ReportBuilder.build(progress.counting(opened.model), file: facts, options: options)
}

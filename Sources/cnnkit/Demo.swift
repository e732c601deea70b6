import ArgumentParser
import ConvNet
import Datasets
import Foundation
import ModelArchive
import ModelFiles
import Verification

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A tour: train the seed network one epoch, save HDF5 and CNNZ, convert, inspect and verify.")

    @Option(help: "Folder for the files the tour writes.")
    var outDir: String = "cnnkit-demo"

    @Option(help: "Folder holding the Fashion-MNIST IDX files.")
    var data: String = FashionMNIST.defaultDirectory

    @OptionGroup var threadsOption: ThreadsOption

    func run() throws {
        try reportingErrors {
            try makeFolder(outDir)
            func step(_ title: String) { say("\n== \(title)") }
            let h5 = "\(outDir)/seed.h5", cnnz = "\(outDir)/seed.cnnz", back = "\(outDir)/seed-from-cnnz.h5", half = "\(outDir)/seed-float16.cnnz"

            step("1. Load Fashion-MNIST from \(data)")
            let train = try FashionMNIST.load(directory: data, split: .train)
            let test = try FashionMNIST.load(directory: data, split: .test)
            say("\(train.count) training and \(test.count) test images of \(train.height)x\(train.width)")

            step("2. Train the seed network one epoch (SGD, lr 0.005, batch 1, seed 0)")
            for line in ["conv2d 16 filters 3x3 -> max pool 2x2 -> flatten -> dense 10 -> softmax; input x = pixel / 255 - 0.5"] { say(line) }
            var trainer = try Trainer(architecture: .seed, optimizer: OptimizerConfig(learningRate: 0.005), batchSize: 1, seed: 0, threads: threadsOption.threads)
            trainer.state.dataset = DatasetIdentity(name: "fashion-mnist", trainCount: train.count, fingerprint: train.fingerprint())
            let progress = ProgressReporter(quiet: false)
            let clock = ContinuousClock(), started = clock.now
            try trainer.train(on: train, test: test, epochs: 1, control: { p, _ in progress.step(p); return .proceed },
                              epochEnd: { record, s in progress.epochDone(epoch: s.state.epoch, total: 1, record: record) })
            let seconds = (clock.now - started - trainer.evaluationTime).seconds
            let record = trainer.state.history[0]
            say(String(format: "test accuracy %.2f%%, train loss %.4f, %.0f images/s", (record.testAccuracy ?? 0) * 100, record.loss, Double(train.count) / seconds))

            step("3. Save HDF5 (a Keras 3 legacy .h5) and CNNZ, each with probes")
            let document = try ModelDocument.recording(network: trainer.network, probeInputs: Probes.inputs(from: test, count: 8),
                                                       source: "fashion-mnist:t10k[0..<8]", trainingState: trainer.state,
                                                       metadata: ["created_by": "cnnkit demo"])
            try ModelFiles.save(document, to: h5)
            try ModelFiles.save(document, to: cnnz, options: SaveOptions(compress: true))
            say("\(h5): \(fileSize(h5)) bytes\n\(cnnz): \(fileSize(cnnz)) bytes (shuffle-deflate)")

            step("4. Convert CNNZ -> HDF5 and HDF5 -> CNNZ float16, each reopened and verified")
            for request in [ConversionRequest(input: cnnz, output: back), ConversionRequest(input: h5, output: half, dtype: .float16)] {
                let result = try convertModel(request)
                result.lines.forEach { say($0) }
                if let report = result.report, !report.passed { throw ExitCode(Exit.checksFailed) }
            }

            step("5. Inspect \(cnnz)")
            say(try InspectReport(try ModelFiles.open(cnnz)).text())

            step("6. Verify \(h5), and \(back) against \(cnnz)")
            let limited = test.prefix(1000)
            for (file, against) in [(h5, nil), (back, cnnz)] as [(String, String?)] {
                var options = VerifyOptions(data: limited)
                if let against { options.against = (try ModelFiles.open(against).model, against) }
                let opened = try ModelFiles.open(file)
                let report = try Verifier.verify(opened.model, path: file, format: opened.format.format.rawValue,
                                                 parseDetail: opened.integrity, options: options)
                for check in report.checks { say("\(check.status.rawValue)  \(check.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(check.detail)") }
                if !report.passed { throw ExitCode(Exit.checksFailed) }
            }

            step("Done")
            say("files are in \(outDir)/; try: cnnkit inspect \(h5), cnnkit verify \(half) --atol 0 (fails: float16 is lossy)")
        }
    }
}

/// Writes a line to stdout at once (unbuffered), so the tour and the progress on stderr stay in order.
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// Creates `path` (and missing parents) as a folder for outputs, or fails with exit 73 saying why.
func makeFolder(_ path: String) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
        guard isDirectory.boolValue else {
            throw CLIError(code: Exit.cannotCreate, message: "\(path): not a folder (a file of that name is in the way); give --out-dir a folder, new or existing")
        }
        guard FileManager.default.isWritableFile(atPath: path) else {
            throw CLIError(code: Exit.cannotCreate, message: "\(path): the folder is not writable")
        }
        return
    }
    // The nearest existing ancestor says why a folder cannot be made: a file in the way, or no write permission.
    var ancestor = (path as NSString).deletingLastPathComponent
    while !ancestor.isEmpty && ancestor != "/" && !FileManager.default.fileExists(atPath: ancestor) {
        ancestor = (ancestor as NSString).deletingLastPathComponent
    }
    let parent = ancestor.isEmpty ? "." : ancestor
    if FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), !isDirectory.boolValue {
        throw CLIError(code: Exit.cannotCreate, message: "\(path): cannot create the folder: \(parent) is a file, not a folder")
    }
    do {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    } catch {
        let writable = FileManager.default.isWritableFile(atPath: parent)
        throw CLIError(code: Exit.cannotCreate, message: "\(path): cannot create the folder" + (writable ? "" : ": \(parent) is not writable"))
    }
}

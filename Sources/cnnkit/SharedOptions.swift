import ArgumentParser
import ConvNet
import Foundation
import ModelArchive

/// `--architecture FILE.json`, for model files that carry none.
struct ArchitectureOption: ParsableArguments {
    @Option(help: "Architecture JSON for model files that carry none (Keras .weights.h5, plain safetensors or npz).")
    var architecture: String?

    /// The architecture read from the file, when one was given.
    func load() throws -> Architecture? {
        try architecture.map(loadArchitecture)
    }
}

/// The input check every command makes first, before it loads anything: each file it will read (models,
/// images, architecture, resumed model) must be a regular file, following symbolic links (ModelArchive's
/// ``InputFile``). A FIFO, device, socket, folder or symbolic link loop is refused at once (exit 66) with a
/// message naming the file and what it is, instead of blocking on it. The readers check again when they open
/// each file.
func checkInputs(_ paths: String?...) throws {
    for case let path? in paths { try InputFile.check(path) }
}

/// `--json`: one JSON document on stdout (each command's report has a JSON Schema in `Schemas/`).
struct JSONOption: ParsableArguments {
    @Flag(help: "Print the result as one JSON document on stdout (its JSON Schema is in Schemas/).")
    var json = false
}

/// `--threads N`, validated the same way in every command.
struct ThreadsOption: ParsableArguments {
    @Option(name: .customLong("threads"), help: "Worker threads (default: the number of processors; results do not depend on it).")
    var given: Int?

    /// The threads to use.
    var threads: Int { given ?? ProcessInfo.processInfo.activeProcessorCount }

    func validate() throws {
        if let given, given <= 0 { throw ValidationError("--threads must be positive, found \(given)") }
    }
}

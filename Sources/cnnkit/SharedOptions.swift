import ArgumentParser
import ConvNet
import Foundation

/// `--architecture FILE.json`, for model files that carry none.
struct ArchitectureOption: ParsableArguments {
    @Option(help: "Architecture JSON for model files that carry none (Keras .weights.h5, plain safetensors or npz).")
    var architecture: String?

    /// The architecture read from the file, when one was given.
    func load() throws -> Architecture? {
        try architecture.map(loadArchitecture)
    }
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

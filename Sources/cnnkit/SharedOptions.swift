import ArgumentParser
import ConvNet
import Foundation
import ModelArchive

/// `--architecture FILE.json`, for model files that carry none.
struct ArchitectureOption: ParsableArguments {
    @Option(help: "Architecture JSON for model files that carry none (Keras .weights.h5, plain safetensors or npz, PyTorch state dicts).")
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
    @Option(name: .customLong("threads"), parsing: .unconditional,
            help: "Worker threads (default: the number of processors; results do not depend on it).")
    var given: Int?

    /// The threads to use.
    var threads: Int { given ?? ProcessInfo.processInfo.activeProcessorCount }

    func validate() throws {
        try OptionCheck.atLeast(1, given, "--threads")
    }
}

/// Checks of option values, worded the same way in every command (`--NAME must be 1 or more, found -1`).
///
/// Numeric options are declared with `parsing: .unconditional`, so that `--epochs -1` reaches these checks
/// instead of reading `-1` as an option name.
enum OptionCheck {
    static func atLeast(_ minimum: Int, _ value: Int?, _ name: String) throws {
        if let value, value < minimum { throw ValidationError("\(name) must be \(minimum) or more, found \(value)") }
    }

    static func atLeast(_ minimum: Double, _ value: Double?, _ name: String) throws {
        if let value, !(value >= minimum) { throw ValidationError("\(name) must be \(show(minimum)) or more, found \(show(value))") }
    }

    /// A number as typed: `-1` rather than `-1.0`.
    static func show(_ x: Double) -> String {
        x.isFinite && x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)"
    }

    static func within(_ range: ClosedRange<Int>, _ value: Int?, _ name: String) throws {
        if let value, !range.contains(value) {
            throw ValidationError("\(name) must be \(range.lowerBound) to \(range.upperBound), found \(value)")
        }
    }
}

import ArgumentParser
import ConvNet
import Foundation
import ModelArchive
import ModelFiles

/// `--architecture FILE.json`, for model files that carry none.
struct ArchitectureOption: ParsableArguments {
    @Option(help: "Architecture JSON for model files that carry none (Keras .weights.h5, plain safetensors or npz, PyTorch state dicts).")
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
    @Option(name: .customLong("threads"), parsing: .unconditional,
            help: "Worker threads (default: the number of processors; results do not depend on it).")
    var given: Int?

    /// The threads to use.
    var threads: Int { given ?? ProcessInfo.processInfo.activeProcessorCount }

    func validate() throws {
        try OptionCheck.atLeast(1, given, "--threads")
    }
}

/// `--compression` choices.
enum CompressionChoice: String, ExpressibleByArgument, CaseIterable {
    case none
    case deflate
    case zstd
}

/// `--compression none|deflate|zstd` and `--level N` of the commands that write a model (`convert`, `train --out`).
struct CompressionOption: ParsableArguments {
    @Option(help: "none, deflate or zstd (CNNZ: shuffle-zstd or shuffle-deflate; HDF5: shuffle + deflate + Fletcher-32 chunks; npz: deflated members; zstd is CNNZ only). convert compresses CNNZ with zstd unless told; train writes uncompressed unless told.")
    var compression: CompressionChoice?

    @Option(parsing: .unconditional, help: "Compression level where the output is compressed: zlib 0-9 (default 6), zstd 1-22 (default 1).")
    var level: Int?

    /// Checks `--level` against the range of the compressor it will reach (argument-parser's exit 64, before any
    /// file is read), when the output format is known from `--to` or the extension; ``apply(_:level:to:format:output:compressByDefault:)``
    /// refuses the rest.
    func validate(output: String, to: ModelFormat?, compressByDefault: Bool) throws {
        guard let out = to.flatMap({ ModelFiles.format(named: $0.rawValue) }) ?? ModelFiles.formatFromExtension(of: output),
              let compressor = Compressor(rawValue: Self.resolved(compression, format: out, compressByDefault: compressByDefault).rawValue)
        else { return }
        try Self.checkLevel(level, for: compressor) { ValidationError($0) }
    }

    /// The choice given, or the format's default one.
    static func resolved(_ choice: CompressionChoice?, format out: any ModelFileFormat, compressByDefault: Bool) -> CompressionChoice {
        if let choice { return choice }
        guard compressByDefault && out.capabilities.compressesByDefault,
              let first = out.capabilities.compressors.first.flatMap({ CompressionChoice(rawValue: $0.rawValue) }) else { return .none }
        return first
    }

    /// zlib's 0-9 for deflate, libzstd's 1-22 for zstd.
    static func checkLevel(_ level: Int?, for compressor: Compressor, _ error: (String) -> any Error) throws {
        try OptionCheck.within(compressor == .zstd ? 1...22 : 0...9, level, "--level", error)
    }

    /// Sets `options`' compression from the choice, refusing what the output format would not do or ignore
    /// (exit 64): a compressor it does not write, `--level` where nothing is compressed or out of range.
    ///
    /// - Parameter compressByDefault: whether the format's ``FormatCapabilities/compressesByDefault`` applies when
    ///   no choice is given (`convert`); `train` writes uncompressed unless asked.
    static func apply(_ choice: CompressionChoice?, level: Int?, to options: inout SaveOptions, format out: any ModelFileFormat,
                      output: String, compressByDefault: Bool) throws {
        let resolved = resolved(choice, format: out, compressByDefault: compressByDefault)
        if let choice, let compressor = Compressor(rawValue: choice.rawValue), !out.capabilities.compressors.contains(compressor) {
            throw CLIError.usage(out.capabilities.compression
                ? "--compression \(choice.rawValue): CNNKit writes \(out.displayName) with \(out.capabilities.compressors.map(\.rawValue).joined(separator: " or ")) only (\(output)); zstd is for CNNZ"
                : "--compression \(choice.rawValue): CNNKit writes \(out.displayName) without compression (\(output)); leave the option out")
        }
        guard let compressor = Compressor(rawValue: resolved.rawValue) else {
            if let level {
                throw CLIError.usage(choice == CompressionChoice.none
                    ? "--level \(level) has no effect with --compression none"
                    : "--level \(level) has no effect: \(output) (\(out.displayName)) is written uncompressed unless --compression deflate is given")
            }
            options.compress = false
            return
        }
        try checkLevel(level, for: compressor, CLIError.usage)
        options.compress = true
        options.compressor = compressor
        switch compressor {
        case .deflate: options.level = level ?? 6
        case .zstd: options.zstdLevel = level ?? 1
        }
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

    static func within(_ range: ClosedRange<Int>, _ value: Int?, _ name: String,
                       _ error: (String) -> any Error = { ValidationError($0) }) throws {
        if let value, !range.contains(value) {
            throw error("\(name) must be \(range.lowerBound) to \(range.upperBound), found \(value)")
        }
    }
}

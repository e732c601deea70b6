import ConvNet

/// What a format can hold and do, so that callers can refuse a request before any work is done.
public struct FormatCapabilities: Sendable, Hashable {
    /// CNNKit reads files of this format.
    public var reads: Bool
    /// CNNKit writes files of this format.
    public var writes: Bool
    /// The storage precisions a writer accepts (float32 always; lossy ones only where the format has them).
    public var dtypes: [StorageDType]
    /// Whether ``SaveOptions/compress`` changes what is written.
    public var compression: Bool
    /// The compressors a writer offers, its default (``SaveOptions/compressor`` nil) first; empty without
    /// ``compression``.
    public var compressors: [Compressor]
    /// Whether the command line compresses unless told otherwise (`--compression` absent).
    public var compressesByDefault: Bool
    /// Whether a written file keeps the training state (optimizer slots, counters, history), so that
    /// training can resume from it.
    public var trainingState: Bool
    /// Whether the reader yields one tensor at a time from the file (else the file is parsed whole when it is
    /// opened).
    public var streamsReads: Bool
    /// Whether the writer takes one tensor at a time from its source (else it gathers the model first).
    public var streamsWrites: Bool

    /// A format's capabilities; by default it is read and written one tensor at a time, as every format CNNKit
    /// knows is. `compressors` nil: deflate alone where `compression` is true.
    public init(compression: Bool, trainingState: Bool, dtypes: [StorageDType] = [.float32], compressors: [Compressor]? = nil,
                compressesByDefault: Bool = false, reads: Bool = true, writes: Bool = true, streamsReads: Bool = true, streamsWrites: Bool = true) {
        (self.compression, self.trainingState, self.dtypes) = (compression, trainingState, dtypes)
        self.compressors = compression ? compressors ?? [.deflate] : []
        self.compressesByDefault = compressesByDefault
        (self.reads, self.writes, self.streamsReads, self.streamsWrites) = (reads, writes, streamsReads, streamsWrites)
    }
}

/// What a format is called and can do: the data part of a ``ModelFileFormat``.
public struct FormatInfo: Sendable {
    /// The format's name (`--to` spells it so).
    public var format: ModelFormat
    /// The name people call it by in sentences ("HDF5", "safetensors").
    public var displayName: String
    /// File name extensions, lower case and without the dot, the usual one first.
    public var extensions: [String]
    /// What it can do.
    public var capabilities: FormatCapabilities
    /// What reading a file of this format proves about its integrity (shown by `inspect` and `verify`).
    public var integrity: String
    /// The bytes every file of this format starts with, when its files are recognised by a signature alone
    /// (``ModelFileFormat/recognizes(prefix:)`` by default); empty for formats that look further.
    public var magic: [UInt8]

    /// A format's description.
    public init(format: ModelFormat, displayName: String, extensions: [String], capabilities: FormatCapabilities, integrity: String,
                magic: [UInt8] = []) {
        (self.format, self.displayName, self.extensions) = (format, displayName, extensions)
        (self.capabilities, self.integrity, self.magic) = (capabilities, integrity, magic)
    }
}

/// One file format: how to recognise its bytes, what it can hold, how to open a file for reading and how to
/// write one from a tensor source.
///
/// Every format module defines one value of this protocol; `ModelFiles` holds the list, so adding a format is
/// one module and one line there.
public protocol ModelFileFormat: Sendable {
    /// Its name, extensions, capabilities and integrity statement.
    var info: FormatInfo { get }

    /// What reading this particular file proves (for formats whose checksums are optional per object, such as
    /// HDF5's Fletcher-32); ``integrity`` by default.
    func integrity(of path: String) -> String

    /// True when the first bytes of a file (up to 4096 of them; fewer for a small file) are this format's; by
    /// default, when they start with ``FormatInfo/magic``.
    func recognizes(prefix: [UInt8]) -> Bool

    /// Opens a file: reads and checks its small parts now, its tensors when asked.
    ///
    /// - Parameters:
    ///   - path: the file, already recognised as this format.
    ///   - architecture: for files that carry none (Keras `.weights.h5`, plain safetensors or npz, PyTorch state dicts).
    /// - Throws: the format module's ``ModelFileError``.
    func openReader(path: String, architecture: Architecture?) throws -> any TensorStreamReader

    /// Opens a file as ``openReader(path:architecture:)`` does, mapping it into memory read-only where the format
    /// allows views of its tensors (``TensorStreamReader/view(named:)``), so that inference reads the weights
    /// where they lie. The default opens the file normally.
    ///
    /// - Throws: the format module's ``ModelFileError``.
    func openMappedReader(path: String, architecture: Architecture?) throws -> any TensorStreamReader

    /// Refuses options the format cannot honour, before anything is computed or written.
    ///
    /// - Throws: ``ArchiveError/unsupported(format:reason:)``.
    func check(_ options: SaveOptions, path: String) throws

    /// Writes a model atomically, fetching its tensors from `model` (one at a time where
    /// ``FormatCapabilities/streamsWrites``).
    ///
    /// - Throws: the format module's ``ModelFileError``, or what fetching a tensor throws.
    func write(_ model: StreamedModel, to path: String, options: SaveOptions) throws
}

extension ModelFileFormat {
    public var format: ModelFormat { info.format }
    public var displayName: String { info.displayName }
    public var extensions: [String] { info.extensions }
    /// What it can do.
    public var capabilities: FormatCapabilities { info.capabilities }
    public var integrity: String { info.integrity }

    public func integrity(of path: String) -> String { integrity }

    public func recognizes(prefix: [UInt8]) -> Bool {
        !info.magic.isEmpty && prefix.starts(with: info.magic)
    }

    public func openMappedReader(path: String, architecture: Architecture?) throws -> any TensorStreamReader {
        try openReader(path: path, architecture: architecture)
    }

    /// Refuses a storage precision the format does not list in ``FormatCapabilities/dtypes``.
    public func check(_ options: SaveOptions, path: String) throws {
        guard capabilities.dtypes.contains(options.dtype) else {
            throw ArchiveError.unsupported(format: format.rawValue,
                                           reason: "CNNKit writes \(displayName) as float32; use CNNZ for \(options.dtype.rawValue)")
        }
    }

    /// Refuses a compressor the format does not list in ``FormatCapabilities/compressors`` (every save runs it,
    /// whatever the format's own ``check(_:path:)``).
    public func checkCompressor(_ options: SaveOptions) throws {
        if options.compress, let compressor = options.compressor, !capabilities.compressors.contains(compressor) {
            throw ArchiveError.unsupported(format: format.rawValue,
                                           reason: "CNNKit does not write \(displayName) with \(compressor.rawValue) compression; use CNNZ for \(compressor.rawValue)")
        }
    }

    /// True when `path` ends in one of ``extensions`` (case-insensitive).
    public func matchesExtension(of path: String) -> Bool {
        let lower = path.lowercased()
        return extensions.contains { lower.hasSuffix("." + $0) }
    }
}

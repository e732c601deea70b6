import CNNZFormat
import ConvNet
import Foundation
import HDF5Format
import KerasFormat
import InteropNumPy
import InteropONNX
import InteropPyTorch
import InteropSafetensors
import ModelArchive

/// Reading and writing model files of every format, detected from their bytes.
///
/// ``formats`` is the one list of the formats CNNKit knows; everything else here works through
/// `ModelFileFormat` and never names a format.
public enum ModelFiles {
    /// Every format, in the order detection tries them and help lists them.
    public static let formats: [any ModelFileFormat] = [
        HDF5FileFormat(),
        CNNZFileFormat(),
        // Before Keras and npz: a torch zip's first member is NAME/data.pkl, which neither of theirs is.
        PyTorchFileFormat(),
        KerasFileFormat(),
        SafetensorsFileFormat(),
        NPZFileFormat(),
        ONNXFileFormat(),
    ]

    /// The format with this name, if CNNKit knows it.
    public static func format(named name: String) -> (any ModelFileFormat)? {
        formats.first { $0.format.rawValue == name.lowercased() }
    }

    /// The format of a file's first bytes (up to 4096), if any.
    public static func detect(prefix: [UInt8]) -> (any ModelFileFormat)? {
        formats.first { $0.recognizes(prefix: prefix) }
    }

    /// The format a file name's extension suggests, if any (the longest matching extension wins).
    public static func formatFromExtension(of path: String) -> (any ModelFileFormat)? {
        formats.filter { $0.matchesExtension(of: path) }.first
    }

    /// Detects a file's format from its first bytes, after the input check every read starts with
    /// (`InputFile/open(_:)`): only a regular file is opened (following symbolic links), never in a way that
    /// could block.
    ///
    /// - Throws: `ArchiveError/missingFile(path:reason:)` when it is missing, cannot be opened, or is not a
    ///   regular file (a FIFO, device, socket or folder: the message says which) or a symbolic link loop;
    ///   `ArchiveError/unknownFormat(path:readable:)` when the bytes match no format.
    public static func fileFormat(of path: String) throws -> any ModelFileFormat {
        let prefix = try InputFile.read(path, limit: 4096, whole: false)
        guard let format = detect(prefix: prefix) else {
            throw ArchiveError.unknownFormat(path: path, readable: formats.filter(\.capabilities.reads).map(\.displayName))
        }
        return format
    }

    /// The name of a file's format, detected from its first bytes.
    public static func format(of path: String) throws -> ModelFormat {
        try fileFormat(of: path).format
    }

    /// A warning when the extension suggests another format than the bytes, else nil.
    public static func extensionWarning(path: String, format: ModelFormat) -> String? {
        guard let suggested = formatFromExtension(of: path)?.format, suggested != format else { return nil }
        return "\(path): the extension says \(suggested.rawValue) but the content is \(format.rawValue); reading it as \(format.rawValue)"
    }

    /// Opens a model file of any readable format: the small parts are read and checked now, each tensor when
    /// the returned model asks for it.
    ///
    /// - Parameters:
    ///   - path: the file.
    ///   - architecture: needed for files that carry none (Keras `.weights.h5`).
    ///   - mapped: map the file read-only where the format allows views of its tensors (raw CNNZ):
    ///     `TensorStreamReader/view(named:)` then borrows the weights from the mapping instead of copying them.
    /// - Returns: the open model.
    /// - Throws: a `ModelFileError` naming the file and what is wrong where.
    public static func open(_ path: String, architecture: Architecture? = nil, mapped: Bool = false) throws -> OpenedModel {
        let format = try fileFormat(of: path)
        let reader = mapped ? try format.openMappedReader(path: path, architecture: architecture)
                            : try format.openReader(path: path, architecture: architecture)
        return OpenedModel(path: path, format: format, reader: reader)
    }

    /// Reads a whole model file of any readable format into a document.
    ///
    /// - Throws: a `ModelFileError` naming the file and what is wrong where.
    public static func load(_ path: String, architecture: Architecture? = nil) throws -> ModelDocument {
        try open(path, architecture: architecture).model.document()
    }

    /// The format a save will use: `SaveOptions/format`, else the extension's, else HDF5.
    public static func outputFormat(path: String, options: SaveOptions) -> any ModelFileFormat {
        options.format.flatMap { format(named: $0.rawValue) } ?? formatFromExtension(of: path) ?? formats[0]
    }

    /// Writes a document atomically in the requested format.
    ///
    /// - Throws: `ArchiveError/unsupported(format:reason:)` for an option the format cannot hold, or the
    ///   format module's error.
    public static func save(_ document: ModelDocument, to path: String, options: SaveOptions = .init()) throws {
        try save(StreamedModel(document: document), to: path, options: options)
    }

    /// Writes a model from any tensor source atomically in the requested format: the one write path. A lossy
    /// `SaveOptions/dtype` first records in the metadata the tolerance the file guarantees on the probes;
    /// then the SHA-256 of every tensor, the training state and the architecture are recorded
    /// (`TensorDigests`), one more pass over the tensors.
    ///
    /// - Throws: `ArchiveError/unsupported(format:reason:)` for an option the format cannot hold, or the
    ///   format module's error.
    public static func save(_ model: StreamedModel, to path: String, options: SaveOptions = .init()) throws {
        let format = outputFormat(path: path, options: options)
        try format.check(options, path: path)
        try format.checkCompressor(options)
        var model = model
        // `cnnz.` keys are what the CNNZ reader derives from that file's own tensors (`cnnz.lossy`; Schemas/cnnz.md
        // section 4.4): facts about the file read, not the model, so no output stores them in any format.
        model.metadata = model.metadata.filter { !$0.key.hasPrefix("cnnz.") }
        // A format that holds no training state (ONNX, PyTorch) records no digest of one.
        if options.weightsOnly || !format.capabilities.trainingState { model.dropTrainingState() }
        if options.dtype.isLossy { try recordLossyBound(&model, dtype: options.dtype) }
        model.metadata[TensorDigests.metadataKey] = try TensorDigests.compute(model, dtype: options.dtype).jsonString()
        try format.write(model, to: path, options: options)
    }
}

/// A model file opened for reading: its format, the reader holding it open, and the model as a tensor source.
public struct OpenedModel {
    /// The path as given.
    public var path: String
    /// The format detected from the file's first bytes.
    public var format: any ModelFileFormat
    /// The format's reader: the small parts read, tensors on demand.
    public var reader: any TensorStreamReader
    /// The model, fetching each tensor from the file when asked.
    public var model: StreamedModel { StreamedModel(reader: reader) }
    /// What reading this file proves about its integrity, as `inspect` and `verify` say it.
    public var integrity: String { format.integrity(of: path) }
}

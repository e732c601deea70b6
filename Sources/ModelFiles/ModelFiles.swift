import ConvNet
import Foundation
import CNNZFormat
import HDF5Format
import KerasFormat
import InteropNumPy
import InteropONNX
import InteropSafetensors
import ModelArchive
import Verification

/// How a model file is written, whatever its format.
public struct SaveOptions: Sendable, Hashable {
    /// The output format; nil takes it from the file's extension (HDF5 when there is none).
    public var format: ModelFormat?
    /// Compress tensor data (HDF5: shuffle + deflate + Fletcher-32; CNNZ: shuffle-deflate).
    public var compress: Bool
    /// zlib level 0-9 when compressing.
    public var level: Int
    /// Storage precision of float tensors (lossy below float32; only formats that can hold it accept it).
    public var dtype: StorageDType
    /// Drop the training state (optimizer slots, counters, history).
    public var weightsOnly: Bool

    public init(format: ModelFormat? = nil, compress: Bool = false, level: Int = 6, dtype: StorageDType = .float32, weightsOnly: Bool = false) {
        self.format = format
        self.compress = compress
        self.level = level
        self.dtype = dtype
        self.weightsOnly = weightsOnly
    }
}

/// Storage precisions a conversion can ask for.
public enum StorageDType: String, Sendable, Hashable, CaseIterable {
    case float32
    case float16
    case bfloat16
}

/// Reading and writing model files of every format, detected from their bytes.
///
/// This is the one place that knows every format module; each module knows only `ModelArchive`.
public enum ModelFiles {
    /// Detects a file's format from its first bytes.
    ///
    /// - Throws: ``ArchiveError/missingFile(path:reason:)`` when it cannot be opened,
    ///   ``ArchiveError/unknownFormat(path:)`` when the bytes match no format.
    public static func format(of path: String) throws -> ModelFormat {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            throw ArchiveError.missingFile(path: path, reason: !exists ? "no such file" : isDirectory.boolValue ? "is a folder" : "permission denied")
        }
        defer { try? handle.close() }
        let prefix = [UInt8]((try? handle.read(upToCount: 4096)) ?? Data())
        guard let format = ModelFormat.detect(prefix: prefix) else { throw ArchiveError.unknownFormat(path: path) }
        return format
    }

    /// A warning when the extension suggests another format than the bytes, else nil.
    public static func extensionWarning(path: String, format: ModelFormat) -> String? {
        guard let suggested = ModelFormat.fromExtension(of: path), suggested != format else { return nil }
        return "\(path): the extension says \(suggested.rawValue) but the content is \(format.rawValue); reading it as \(format.rawValue)"
    }

    /// Reads a model file of any readable format.
    ///
    /// - Parameters:
    ///   - path: the file.
    ///   - architecture: needed for files that carry none (Keras `.weights.h5`).
    /// - Throws: a ``ModelFileError`` naming the file and what is wrong where.
    public static func load(_ path: String, architecture: Architecture? = nil) throws -> ModelDocument {
        let format = try format(of: path)
        switch format {
        case .hdf5:
            return try HDF5Model.read(path: path, architecture: architecture)
        case .cnnz:
            return try CNNZModel.read(path: path)
        case .keras:
            return try KerasArchive.read(path: path)
        case .safetensors:
            return try SafetensorsModel.read(path: path, architecture: architecture)
        case .npz:
            return try NPZModel.read(path: path, architecture: architecture)
        case .onnx:
            throw ArchiveError.unsupported(format: "onnx", reason: "\(path) is an ONNX export; CNNKit writes ONNX files but does not read them")
        }
    }

    /// The format a save will use.
    public static func outputFormat(path: String, options: SaveOptions) -> ModelFormat {
        options.format ?? ModelFormat.fromExtension(of: path) ?? .hdf5
    }

    /// Writes a document atomically in the requested format.
    ///
    /// - Throws: ``ArchiveError/unsupported(format:reason:)`` for an option the format cannot hold, or the
    ///   format module's error.
    public static func save(_ document: ModelDocument, to path: String, options: SaveOptions = .init()) throws {
        var document = document
        if options.weightsOnly { document.trainingState = nil }
        let format = outputFormat(path: path, options: options)
        switch format {
        case .hdf5:
            guard options.dtype == .float32 else {
                throw ArchiveError.unsupported(format: "hdf5", reason: "HDF5 files hold float32 weights (Keras reads them); use CNNZ for \(options.dtype.rawValue)")
            }
            let hdf5 = HDF5WriteOptions(compression: options.compress ? .deflate(level: options.level) : .none)
            if ModelFormat.isKerasWeightsPath(path) {
                try HDF5Model.writeKerasWeights(document, to: path, options: hdf5)
            } else {
                try HDF5Model.write(document, to: path, options: hdf5)
            }
        case .cnnz:
            let cnnz = CNNZWriteOptions(codec: options.compress ? .shuffleDeflate : .raw, level: options.level, dtype: cnnzType(options.dtype))
            if options.dtype != .float32 {
                try recordLossyBound(&document, options: cnnz)
            }
            try CNNZModel.write(document, to: path, options: cnnz)
        case .keras:
            guard options.dtype == .float32 else {
                throw ArchiveError.unsupported(format: "keras", reason: "Keras files hold float32 weights; use CNNZ for \(options.dtype.rawValue)")
            }
            try KerasArchive.write(document, to: path, options: HDF5WriteOptions(compression: options.compress ? .deflate(level: options.level) : .none))
        case .safetensors:
            guard options.dtype == .float32 else {
                throw ArchiveError.unsupported(format: "safetensors", reason: "CNNKit writes safetensors as float32; use CNNZ for \(options.dtype.rawValue)")
            }
            try SafetensorsModel.write(document, to: path)
        case .npz:
            guard options.dtype == .float32 else {
                throw ArchiveError.unsupported(format: "npz", reason: "CNNKit writes npz as float32; use CNNZ for \(options.dtype.rawValue)")
            }
            try NPZModel.write(document, to: path, compress: options.compress)
        case .onnx:
            guard options.dtype == .float32 else {
                throw ArchiveError.unsupported(format: "onnx", reason: "CNNKit exports ONNX as float32; use CNNZ for \(options.dtype.rawValue)")
            }
            try ONNXExport.write(document, to: path)
        }
    }
}

extension ModelFiles {
    static func cnnzType(_ dtype: StorageDType) -> CNNZDType {
        switch dtype {
        case .float32: .float32
        case .float16: .float16
        case .bfloat16: .bfloat16
        }
    }

    /// Records in the document the tolerance its lossy copy guarantees on the probes: the copy is encoded in
    /// memory and decoded exactly as a reader will, its probe outputs compared with the float32 ones, and twice
    /// the largest absolute error observed is stored as `cnnkit.tolerance.atol` (an empirical bound).
    static func recordLossyBound(_ document: inout ModelDocument, options: CNNZWriteOptions) throws {
        guard let probes = document.probes else { return }
        let decoded = try CNNZModel.read(bytes: try CNNZModel.encode(document, options: options), name: "(lossy copy)")
        let outputs = try decoded.network().predict(.floats(probes.inputs.scalars))
        let comparison = OutputComparison(actual: outputs, reference: probes.outputs.scalars, width: max(probes.outputs.shape.last ?? 1, 1), tolerance: .exact)
        document.metadata[Verifier.atolKey] = String(max(2 * comparison.maxAbsError, Double(Float.leastNormalMagnitude)))
        document.metadata[Verifier.rtolKey] = "0"
        document.metadata["cnnkit.lossy_dtype"] = options.dtype.rawValue
    }

    /// What reading a file of this format has proven about its integrity.
    public static func integrityDescription(_ format: ModelFormat) -> String {
        switch format {
        case .cnnz: "cnnz file read whole; CRC-32 of header, every chunk and footer verified"
        case .hdf5: "hdf5 file read; Fletcher-32 checksums verified by libhdf5 on datasets that carry them"
        case .keras: "keras zip read; member CRC-32 verified"
        case .safetensors: "safetensors file read; header and offsets validated (the format has no checksums)"
        case .npz: "npz zip read; member CRC-32 verified"
        case .onnx: "onnx"
        }
    }
}

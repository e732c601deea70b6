import ModelArchive

/// Every error the safetensors reader and writer throw (`Schemas/safetensors-mapping.md` lists the rules).
///
/// Each case names the file and, where known, the byte offset and the tensor. ``description`` is one lowercase
/// line; ``category`` maps the case to an exit code in `cnnkit`.
public enum SafetensorsError: Error, Sendable, Equatable, ModelFileError {
    /// The file does not exist or cannot be read.
    case missingFile(path: String, reason: String)
    /// The file is shorter than the 8-byte header length, or the header runs past the end of the file.
    case truncated(file: String, offset: Int, needed: UInt64, available: Int)
    /// The header length is larger than the cap (100,000,000 bytes, as the Python package).
    case headerTooLarge(file: String, length: UInt64, limit: Int)
    /// The header is not UTF-8 JSON of the expected shape.
    case malformedHeader(file: String, offset: Int, reason: String)
    /// A tensor's dtype is unknown or not one CNNKit decodes.
    case unsupportedDType(file: String, tensor: String, dtype: String)
    /// A tensor's `data_offsets` do not start where the previous tensor ends (a gap or an overlap).
    case badOffsets(file: String, tensor: String, expectedStart: UInt64, found: [UInt64])
    /// A tensor's byte range does not hold its shape times its dtype size.
    case sizeMismatch(file: String, tensor: String, dtype: String, shape: [Int], expectedBytes: UInt64, foundBytes: UInt64)
    /// The tensors do not cover the data area exactly: bytes are left over at the end, or missing.
    case dataNotCovered(file: String, offset: Int, coveredBytes: UInt64, dataBytes: UInt64)
    /// The file is valid safetensors but does not describe a model CNNKit reads.
    case document(file: String, tensor: String?, reason: String)
    /// The file carries no architecture and none was given.
    case missingArchitecture(file: String)
    /// The document cannot be written as safetensors.
    case invalidWrite(reason: String)
    /// The output cannot be created.
    case cannotCreate(path: String, reason: String)
    /// Writing failed midway; nothing was left behind.
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missingFile(path, reason):
            "\(path): cannot open: \(reason)"
        case let .truncated(file, offset, needed, available):
            "\(file): at byte \(offset): the file ends early: \(needed) bytes needed, \(available) available"
        case let .headerTooLarge(file, length, limit):
            "\(file): at byte 0: header length \(length) is larger than the cap of \(limit) bytes"
        case let .malformedHeader(file, offset, reason):
            "\(file): at byte \(offset): malformed safetensors header: \(reason)"
        case let .unsupportedDType(file, tensor, dtype):
            "\(file): tensor \(tensor): dtype '\(dtype)' is not supported (F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL are)"
        case let .badOffsets(file, tensor, expectedStart, found):
            "\(file): tensor \(tensor): data_offsets \(found) must start at \(expectedStart), where the previous tensor ends (\(found.first.map { $0 < expectedStart ? "overlap" : "gap" } ?? "bad offsets"))"
        case let .sizeMismatch(file, tensor, dtype, shape, expectedBytes, foundBytes):
            "\(file): tensor \(tensor): shape \(shape) of \(dtype) needs \(expectedBytes) bytes, data_offsets span \(foundBytes)"
        case let .dataNotCovered(file, offset, covered, data):
            covered < data
                ? "\(file): at byte \(offset): \(data - covered) trailing bytes after the last tensor (tensors cover \(covered) of \(data) data bytes)"
                : "\(file): at byte \(offset): tensors cover \(covered) data bytes but the file holds only \(data)"
        case let .document(file, tensor, reason):
            tensor.map { "\(file): tensor \($0): \(reason)" } ?? "\(file): \(reason)"
        case let .missingArchitecture(file):
            "\(file): the file carries no architecture (no '__metadata__' key 'cnnkit.architecture'); give one with --architecture FILE.json"
        case let .invalidWrite(reason):
            "safetensors: cannot write: \(reason)"
        case let .cannotCreate(path, reason):
            "\(path): cannot create: \(reason)"
        case let .writeFailed(path, reason):
            "\(path): write failed: \(reason)"
        }
    }

    public var category: ModelFileErrorCategory {
        switch self {
        case .missingFile: .missingInput
        case .invalidWrite: .unsupported
        case .cannotCreate: .cannotCreateOutput
        case .writeFailed: .writeFailed
        default: .invalidInput
        }
    }
}

import ModelArchive

/// Errors of the `.keras` zip module; each names the file and, where it applies, the zip member.
///
/// Descriptions are one line: `FILE: at MEMBER: what was wrong (expected ..., found ...)`. Errors inside the
/// `model.weights.h5` member or in `config.json` are ``HDF5Format/HDF5Error`` values naming `FILE:model.weights.h5`
/// and the HDF5 path, or `FILE` and `config.json`.
public enum KerasArchiveError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input file does not exist or cannot be opened for reading.
    case missingFile(file: String, reason: String)
    /// The file is not a readable zip, or a member is missing, duplicated, corrupt or malformed.
    case invalid(file: String, member: String?, reason: String)
    /// The archive uses something CNNKit does not read (Keras' `.npz` weights format, an encrypted member, ...).
    case unsupported(file: String, member: String?, reason: String)
    /// The output (or a temporary file beside it) cannot be created.
    case cannotCreate(file: String, reason: String)
    /// Writing the output failed midway; nothing was left behind.
    case writeFailed(file: String, reason: String)

    public var description: String {
        switch self {
        case let .missingFile(file, reason): "\(file): cannot open: \(reason)"
        case let .invalid(file, member, reason): member.map { "\(file): at \($0): \(reason)" } ?? "\(file): \(reason)"
        case let .unsupported(file, member, reason): member.map { "\(file): at \($0): unsupported: \(reason)" } ?? "\(file): unsupported: \(reason)"
        case let .cannotCreate(file, reason): "\(file): cannot create: \(reason)"
        case let .writeFailed(file, reason): "\(file): write failed: \(reason)"
        }
    }
}

extension KerasArchiveError: ModelFileError {
    public var category: ModelFileErrorCategory {
        switch self {
        case .missingFile: .missingInput
        case .invalid, .unsupported: .invalidInput
        case .cannotCreate: .cannotCreateOutput
        case .writeFailed: .writeFailed
        }
    }
}

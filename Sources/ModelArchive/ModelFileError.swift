/// What kind of failure a format module's error is, so that tools can map it to an exit code without knowing
/// the module.
public enum ModelFileErrorCategory: Sendable, Equatable {
    /// The input is corrupt, invalid or unsupported (sysexits 65, EX_DATAERR).
    case invalidInput
    /// The input is missing or cannot be opened (66, EX_NOINPUT).
    case missingInput
    /// The output cannot be created (73, EX_CANTCREAT).
    case cannotCreateOutput
    /// Writing failed midway (74, EX_IOERR).
    case writeFailed
    /// The request cannot be done by this format (64, EX_USAGE).
    case unsupported
}

/// An error a format module throws: a one-line description naming the file and the place, and its category.
public protocol ModelFileError: Error, CustomStringConvertible {
    var category: ModelFileErrorCategory { get }
}

extension ArchiveError: ModelFileError {
    public var category: ModelFileErrorCategory {
        switch self {
        case .missingFile: .missingInput
        case .unknownFormat, .invalid: .invalidInput
        case .unsupported: .unsupported
        case .cannotCreate: .cannotCreateOutput
        case .writeFailed: .writeFailed
        }
    }
}

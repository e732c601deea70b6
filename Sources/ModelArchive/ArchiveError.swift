/// Errors shared by every format: files that are missing, unreadable, unsupported or cannot be written.
///
/// Each case maps to one sysexits code in the command-line tool.
public enum ArchiveError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file does not exist or cannot be opened (exit 66).
    case missingFile(path: String, reason: String)
    /// The bytes are not a format CNNKit reads (exit 65); `readable` names the formats it does read.
    case unknownFormat(path: String, readable: [String])
    /// The file is of a known format but its contents are invalid (exit 65).
    case invalid(path: String, location: String?, reason: String)
    /// The format cannot be written or read in this direction (exit 64).
    case unsupported(format: String, reason: String)
    /// The output cannot be created (exit 73).
    case cannotCreate(path: String, reason: String)
    /// Writing the output failed midway (exit 74); nothing was left behind.
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missingFile(path, reason): "\(path): cannot open: \(reason)"
        case let .unknownFormat(path, readable): "\(path): not a model file CNNKit reads (\(Self.list(readable)))"
        case let .invalid(path, location, reason): location.map { "\(path): at \($0): \(reason)" } ?? "\(path): \(reason)"
        case let .unsupported(format, reason): "\(format): \(reason)"
        case let .cannotCreate(path, reason): "\(path): cannot create: \(reason)"
        case let .writeFailed(path, reason): "\(path): write failed: \(reason)"
        }
    }

    /// "a, b or c".
    static func list(_ names: [String]) -> String {
        guard let last = names.last else { return "none" }
        return names.count == 1 ? last : names.dropLast().joined(separator: ", ") + " or " + last
    }
}

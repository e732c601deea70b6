import ModelArchive

/// Every error the npz reader and writer throw (`Schemas/npz-mapping.md` lists the rules).
///
/// Each case names the file and, where known, the zip member and the byte offset inside it. ``description`` is
/// one lowercase line; ``category`` maps the case to an exit code in `cnnkit`.
public enum NumPyError: Error, Sendable, Equatable, ModelFileError {
    /// The file does not exist or cannot be read.
    case missingFile(path: String, reason: String)
    /// The bytes are not a readable zip archive.
    case notAZip(file: String, reason: String)
    /// A member is not a regular file, its name is not `<key>.npy`, or two members share a name.
    case badMember(file: String, member: String, reason: String)
    /// A member's declared size is beyond the caps (larger than the file allows, or a zip bomb).
    case memberTooLarge(file: String, member: String, declaredBytes: UInt64, limit: UInt64)
    /// A member does not decompress to its declared size, or its CRC-32 does not match.
    case corruptMember(file: String, member: String, reason: String)
    /// A member is not a `.npy` array CNNKit reads (bad header, object dtype, shape larger than the data, ...).
    case badArray(file: String, member: String, location: String?, reason: String)
    /// The archive is a valid npz but does not describe a model CNNKit reads.
    case document(file: String, member: String?, reason: String)
    /// The archive carries no architecture (neither `__cnnkit__.npy` nor the seed's names) and none was given.
    case missingArchitecture(file: String)
    /// The document cannot be written as npz.
    case invalidWrite(reason: String)

    public var description: String {
        switch self {
        case let .missingFile(path, reason):
            "\(path): cannot open: \(reason)"
        case let .notAZip(file, reason):
            "\(file): not a readable npz (zip) archive: \(reason)"
        case let .badMember(file, member, reason):
            "\(file): member \(member): \(reason)"
        case let .memberTooLarge(file, member, declared, limit):
            "\(file): member \(member): declared size \(declared) bytes is above the limit of \(limit) bytes"
        case let .corruptMember(file, member, reason):
            "\(file): member \(member): \(reason)"
        case let .badArray(file, member, location, reason):
            "\(file): member \(member): " + (location.map { "at \($0): " } ?? "") + reason
        case let .document(file, member, reason):
            member.map { "\(file): member \($0): \(reason)" } ?? "\(file): \(reason)"
        case let .missingArchitecture(file):
            "\(file): the archive carries no architecture (no __cnnkit__.npy and not the seed's filters/weights/biases); give one with --architecture FILE.json"
        case let .invalidWrite(reason):
            "npz: cannot write: \(reason)"
        }
    }

    public var category: ModelFileErrorCategory {
        switch self {
        case .missingFile: .missingInput
        case .invalidWrite: .unsupported
        default: .invalidInput
        }
    }
}

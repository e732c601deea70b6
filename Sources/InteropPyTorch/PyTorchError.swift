import ModelArchive

/// Every error the `.pt` reader and writer throw (`Schemas/pytorch.md` lists the rules).
///
/// Each case names the file and, where known, the zip member, the state dict key or the pickle byte offset,
/// and what was expected. ``description`` is one lowercase line; ``category`` maps the case to an exit code in
/// `cnnkit` (a refused input is 65).
public enum PyTorchError: Error, Sendable, Equatable, ModelFileError {
    /// The file does not exist or cannot be read.
    case missingFile(path: String, reason: String)
    /// The file is not a zip CNNKit can read, or its members break a rule (`member` nil: the archive itself).
    case archive(file: String, member: String?, reason: String)
    /// A `torch.save` file of the legacy format (a pickle at byte 0, PyTorch < 1.6 or
    /// `_use_new_zipfile_serialization=False`).
    case legacyFormat(file: String)
    /// A TorchScript archive (`torch.jit.save`): code, not a state dict.
    case torchScript(file: String, member: String)
    /// The pickle `data.pkl` is refused at a byte offset: an opcode or global a state dict does not need, or
    /// malformed data.
    case pickle(file: String, member: String, offset: Int, reason: String)
    /// The pickle goes over one of the reader's limits (`what` names it).
    case limit(file: String, member: String, offset: Int, what: String, limit: Int)
    /// A storage (`data/<key>`) does not hold what the pickle says.
    case storage(file: String, member: String, reason: String)
    /// A state dict entry is not a tensor CNNKit can read, or does not fit the architecture.
    case tensor(file: String, key: String, reason: String)
    /// The state dict cannot be mapped onto an architecture (what is ambiguous or missing is in `reason`).
    case mapping(file: String, reason: String)
    /// The model cannot be written as a `.pt` state dict. (An output that cannot be created or written is an
    /// ``ArchiveError``.)
    case invalidWrite(reason: String)

    /// How to make a file this reader reads.
    static let resave = "re-save it in Python with torch.save(model.state_dict(), path)"

    public var description: String {
        switch self {
        case let .missingFile(path, reason):
            "\(path): cannot open: \(reason)"
        case let .archive(file, member, reason):
            member.map { "\(file): member \($0): \(reason)" } ?? "\(file): \(reason)"
        case let .legacyFormat(file):
            "\(file): at byte 0: a legacy torch.save file (a pickle, not a zip; PyTorch < 1.6 or _use_new_zipfile_serialization=False); CNNKit reads the zip format only: load it with torch.load(path, weights_only=True) and \(Self.resave)"
        case let .torchScript(file, member):
            "\(file): member \(member): a TorchScript archive (torch.jit.save) holds code, not a state dict; \(Self.resave)"
        case let .pickle(file, member, offset, reason):
            "\(file): member \(member): at byte \(offset): \(reason)"
        case let .limit(file, member, offset, what, limit):
            "\(file): member \(member): at byte \(offset): \(what) goes over the limit of \(limit)"
        case let .storage(file, member, reason):
            "\(file): member \(member): \(reason)"
        case let .tensor(file, key, reason):
            "\(file): key \(key): \(reason)"
        case let .mapping(file, reason):
            "\(file): \(reason)"
        case let .invalidWrite(reason):
            "pt: cannot write: \(reason)"
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

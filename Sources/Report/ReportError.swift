import ModelArchive

/// Why a report or picture could not be made; one line, naming the file where there is one.
public enum ReportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The model has nothing of the kind asked for (`show filters` of a model without convolutions).
    case nothingToShow(file: String, what: String)
    /// A picture for `file` could not be encoded as PNG.
    case cannotEncode(file: String, reason: String)
    /// The data given does not fit the model (`--data` images of another size, labels past the outputs).
    case dataMismatch(file: String, reason: String)
    /// The `--against` model cannot be compared with the model.
    case incomparable(file: String, other: String, reason: String)

    /// The one-line message.
    public var description: String {
        switch self {
        case let .nothingToShow(file, what): "\(file): \(what)"
        case let .cannotEncode(file, reason): "\(file): cannot encode a picture as PNG: \(reason)"
        case let .dataMismatch(file, reason): "\(file): \(reason)"
        case let .incomparable(file, other, reason): "\(file) against \(other): \(reason)"
        }
    }
}

extension ReportError: ModelFileError {
    /// The exit code's category: 64 for nothing to show, 65 for data or models that do not fit, 74 for encoding.
    public var category: ModelFileErrorCategory {
        switch self {
        case .nothingToShow: .unsupported
        case .dataMismatch, .incomparable: .invalidInput
        case .cannotEncode: .writeFailed
        }
    }
}

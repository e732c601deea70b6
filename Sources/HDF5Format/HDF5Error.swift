import ModelArchive

/// Errors of reading and writing HDF5 files, by this module and by the layouts built on it; each names the file
/// and the HDF5 path where it happened.
///
/// Descriptions are one line: `FILE: at HDF5-PATH: what was wrong (expected ..., found ...)`.
public enum HDF5Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input file does not exist or cannot be opened for reading.
    case missingFile(file: String, reason: String)
    /// An HDF5 library call failed: the call, the path it worked on and HDF5's own error stack, folded to one
    /// line. `writing` tells whether the file was being written (then nothing was left behind).
    case callFailed(file: String, location: String, call: String, stack: String, writing: Bool)
    /// The file is HDF5 but its contents are not what the layout requires.
    case invalid(file: String, location: String, reason: String)
    /// The file's contents use something CNNKit does not support (such as a layer, activation, optimizer or
    /// option of the model stored in it).
    case unsupported(file: String, location: String, reason: String)
    /// The file uses an HDF5 feature CNNKit refuses to follow: soft or external links, external or virtual
    /// datasets, dataspaces far larger than the stored bytes.
    case refused(file: String, location: String, reason: String)
    /// The document cannot be expressed in the layout (for example a layer name with `/`).
    case cannotWrite(file: String, reason: String)
    /// The output file cannot be created.
    case cannotCreate(file: String, reason: String)
    /// Reading the file in a screening process (``HDF5Library/screen``) did not end normally: libhdf5 crashed,
    /// ran out of its memory limit or its time. `reason` says how it ended (it starts with `damaged: `, or is the
    /// watchdog's own line when libhdf5 stalled there).
    case screeningFailed(file: String, reason: String)

    public var description: String {
        switch self {
        case let .missingFile(file, reason):
            "\(file): cannot open: \(reason)"
        case let .callFailed(file, location, call, stack, writing):
            "\(file): at \(location): \(call) failed while \(writing ? "writing" : "reading")" + (stack.isEmpty ? "" : " (\(stack))")
        case let .invalid(file, location, reason):
            "\(file): at \(location): \(reason)"
        case let .unsupported(file, location, reason):
            "\(file): at \(location): unsupported: \(reason)"
        case let .refused(file, location, reason):
            "\(file): at \(location): refused: \(reason)"
        case let .cannotWrite(file, reason):
            "\(file): cannot write as HDF5: \(reason)"
        case let .cannotCreate(file, reason):
            "\(file): cannot create: \(reason)"
        case let .screeningFailed(file, reason):
            "\(file): \(reason)"
        }
    }
}

extension HDF5Error: ModelFileError {
    public var category: ModelFileErrorCategory {
        switch self {
        case .missingFile: .missingInput
        case let .callFailed(_, _, _, _, writing): writing ? .writeFailed : .invalidInput
        case .invalid, .unsupported, .refused, .screeningFailed: .invalidInput
        case .cannotWrite: .unsupported
        case .cannotCreate: .cannotCreateOutput
        }
    }
}

import ModelArchive

/// Where in a CNNZ file something went wrong: the file, and the byte offset, tensor and chunk where known.
public struct CNNZLocation: Sendable, Hashable, CustomStringConvertible {
    /// The file path, or the name given to ``CNNZModel/read(bytes:name:options:)``.
    public var file: String
    /// The byte offset from the start of the file.
    public var offset: UInt64?
    /// The tensor name.
    public var tensor: String?
    /// The chunk index inside the tensor, from 0.
    public var chunk: Int?

    public init(file: String, offset: UInt64? = nil, tensor: String? = nil, chunk: Int? = nil) {
        self.file = file
        self.offset = offset
        self.tensor = tensor
        self.chunk = chunk
    }

    /// `file: at byte 120, tensor conv2d.kernel, chunk 3`.
    public var description: String {
        var parts: [String] = []
        if let offset { parts.append("at byte \(offset)") }
        if let tensor { parts.append("tensor \(tensor)") }
        if let chunk { parts.append("chunk \(chunk)") }
        return parts.isEmpty ? file : "\(file): " + parts.joined(separator: ", ")
    }
}

/// The regions of a CNNZ file that carry their own CRC-32 (`Schemas/cnnz.md` section 2).
public enum CNNZRegion: String, Sendable, Hashable {
    case preamble, chunk, header, footer
}

/// Every error the CNNZ reader and writer throw (`Schemas/cnnz.md` section 6 lists the reader's rules).
///
/// Each case carries a ``CNNZLocation`` naming the file and, where known, the byte offset, tensor and chunk.
/// ``description`` is one line; ``category`` maps the case to an exit code in `cnnkit`.
public enum CNNZError: Error, Sendable, Equatable, ModelFileError {
    // MARK: Reading: structure
    /// The file does not start with the 9-byte CNNZ signature (section 2.1).
    case badMagic(CNNZLocation, found: [UInt8])
    /// The file's major version is not one this reader knows (section 7).
    case unsupportedVersion(CNNZLocation, major: Int, minor: Int)
    /// The file ends before a structure it needs (the preamble, footer, header or a chunk).
    case truncated(CNNZLocation, what: String, needed: UInt64, available: UInt64)
    /// A CRC-32 does not match the bytes it covers.
    case checksumMismatch(CNNZLocation, region: CNNZRegion, expected: UInt32, found: UInt32)
    /// The footer's end marker is wrong.
    case badFooter(CNNZLocation, reason: String)
    /// Bytes follow a complete, valid CNNZ file.
    case trailingBytes(CNNZLocation, count: UInt64)
    /// The header's offset or length points outside the file or leaves bytes unaccounted for.
    case headerOutOfBounds(CNNZLocation, reason: String)
    /// The header is larger than ``CNNZReadOptions/maxHeaderBytes``, or another cap is exceeded.
    case limitExceeded(CNNZLocation, what: String, found: UInt64, limit: UInt64)
    /// The header is not the JSON document section 4 describes.
    case malformedHeader(CNNZLocation, reason: String)
    /// A tensor's dtype is not one this reader knows.
    case unknownDType(CNNZLocation, name: String)
    /// A tensor's codec is not one this reader knows.
    case unknownCodec(CNNZLocation, name: String)
    /// A tensor's role is not one this reader knows.
    case unknownRole(CNNZLocation, name: String)
    /// Two tensors share a name.
    case duplicateTensor(CNNZLocation)
    /// A shape whose element or byte count does not fit in 64 bits, or has a negative extent.
    case sizeOverflow(CNNZLocation, reason: String)
    /// A tensor entry that is inconsistent (wrong number of chunks, a raw chunk of the wrong size, ...).
    case invalidTensorEntry(CNNZLocation, reason: String)
    /// A chunk starts before the previous one ends (or before the data region).
    case overlappingChunk(CNNZLocation, expectedOffset: UInt64, foundOffset: UInt64)
    /// Bytes lie unaccounted for between two chunks, or between the last chunk and the header.
    case gap(CNNZLocation, expectedOffset: UInt64, foundOffset: UInt64)
    /// Alignment padding that is not zero.
    case nonzeroPadding(CNNZLocation)
    /// A chunk's codec output is not exactly the raw size the table implies, or the stream is damaged.
    case decompressionFailed(CNNZLocation, reason: String)
    /// A tensor asked for by name or index that the file does not hold.
    case noSuchTensor(CNNZLocation)
    // MARK: Files
    /// The file does not exist or cannot be opened.
    case missingFile(path: String, reason: String)
    /// Reading the file failed (I/O error).
    case readFailed(path: String, reason: String)
    /// The output cannot be created.
    case cannotCreate(path: String, reason: String)
    /// Writing failed midway; nothing was left behind.
    case writeFailed(path: String, reason: String)
    // MARK: Writing
    /// A value cannot be stored in the requested dtype without changing its bits (`-0`, NaN, a fraction or an
    /// out-of-range value in an integer dtype).
    case notRepresentable(tensor: String, dtype: CNNZDType, index: Int, value: Float)
    /// The document or the stream of writer calls is not one a CNNZ file can hold.
    case invalidWrite(reason: String)

    public var category: ModelFileErrorCategory {
        switch self {
        case .missingFile: .missingInput
        case .readFailed: .invalidInput
        case .cannotCreate: .cannotCreateOutput
        case .writeFailed: .writeFailed
        case .notRepresentable, .invalidWrite: .unsupported
        default: .invalidInput
        }
    }

    /// The location of a reading error, if it has one.
    public var location: CNNZLocation? {
        switch self {
        case let .badMagic(l, _), let .unsupportedVersion(l, _, _), let .truncated(l, _, _, _),
             let .checksumMismatch(l, _, _, _), let .badFooter(l, _), let .trailingBytes(l, _),
             let .headerOutOfBounds(l, _), let .limitExceeded(l, _, _, _), let .malformedHeader(l, _),
             let .unknownDType(l, _), let .unknownCodec(l, _), let .unknownRole(l, _), let .duplicateTensor(l),
             let .sizeOverflow(l, _), let .invalidTensorEntry(l, _), let .overlappingChunk(l, _, _), let .gap(l, _, _),
             let .nonzeroPadding(l), let .decompressionFailed(l, _), let .noSuchTensor(l):
            l
        default:
            nil
        }
    }

    public var description: String {
        func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
        switch self {
        case let .badMagic(l, found):
            let shown = found.prefix(9).map { String($0, radix: 16) }.joined(separator: " ")
            return "\(l): not a CNNZ file: expected the signature 89 43 4e 4e 5a 0d 0a 1a 0a, found \(shown.isEmpty ? "nothing" : shown)"
        case let .unsupportedVersion(l, major, minor):
            return "\(l): CNNZ version \(major).\(minor) is not supported (this reader knows major version \(CNNZLayout.majorVersion))"
        case let .truncated(l, what, needed, available):
            return "\(l): file is truncated: the \(what) needs \(needed) bytes, only \(available) remain"
        case let .checksumMismatch(l, region, expected, found):
            let cause = region == .footer ? "the file is corrupt or truncated" : "the file is corrupt"
            return "\(l): CRC-32 mismatch in the \(region.rawValue): stored \(hex(expected)), computed \(hex(found)) (\(cause))"
        case let .badFooter(l, reason):
            return "\(l): bad footer: \(reason)"
        case let .trailingBytes(l, count):
            return "\(l): \(count) trailing bytes after the end of the CNNZ file"
        case let .headerOutOfBounds(l, reason):
            return "\(l): header out of bounds: \(reason)"
        case let .limitExceeded(l, what, found, limit):
            return "\(l): \(what) is \(found), above the limit of \(limit)"
        case let .malformedHeader(l, reason):
            return "\(l): malformed header: \(reason)"
        case let .unknownDType(l, name):
            return "\(l): unknown dtype '\(name)' (expected one of \(CNNZDType.allCases.map(\.rawValue).joined(separator: ", ")))"
        case let .unknownCodec(l, name):
            return "\(l): unknown codec '\(name)' (expected one of \(CNNZCodec.allCases.map(\.rawValue).joined(separator: ", ")))"
        case let .unknownRole(l, name):
            return "\(l): unknown role '\(name)' (expected one of \(CNNZTensorRole.allCases.map(\.rawValue).joined(separator: ", ")))"
        case let .duplicateTensor(l):
            return "\(l): the tensor name is used twice"
        case let .sizeOverflow(l, reason):
            return "\(l): size overflow: \(reason)"
        case let .invalidTensorEntry(l, reason):
            return "\(l): invalid tensor entry: \(reason)"
        case let .overlappingChunk(l, expected, found):
            return "\(l): chunk overlaps the previous data: it starts at byte \(found), expected \(expected)"
        case let .gap(l, expected, found):
            return "\(l): \(found - min(found, expected)) unaccounted bytes: data resumes at byte \(found), expected \(expected)"
        case let .nonzeroPadding(l):
            return "\(l): alignment padding is not zero"
        case let .decompressionFailed(l, reason):
            return "\(l): \(reason)"
        case let .noSuchTensor(l):
            return "\(l): no such tensor in the file"
        case let .missingFile(path, reason):
            return "\(path): cannot open: \(reason)"
        case let .readFailed(path, reason):
            return "\(path): read failed: \(reason)"
        case let .cannotCreate(path, reason):
            return "\(path): cannot create: \(reason)"
        case let .writeFailed(path, reason):
            return "\(path): write failed: \(reason)"
        case let .notRepresentable(tensor, dtype, index, value):
            return "tensor \(tensor): element \(index) (\(value)) cannot be stored exactly as \(dtype.rawValue)"
        case let .invalidWrite(reason):
            return "cannot write CNNZ: \(reason)"
        }
    }
}

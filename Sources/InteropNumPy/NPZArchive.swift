import Foundation
import ModelArchive
import ZIPFoundation
import ZipIntegrity

/// An npz file (a zip of `.npy` files) opened for reading one member at a time, through ZIPFoundation.
///
/// Opening checks the local headers against the central directory and each member's declared size against the
/// caps (the file's size; for a deflated member, ``SafetyLimits/maxDeflateRatio`` times its stored size) before
/// anything is extracted. Each extraction counts the bytes against the declared size as they come and compares
/// the CRC-32 ZIPFoundation computes with the stored one.
final class NPZArchiveReader {
    /// A member: its name (`conv2d.kernel.npy`) and central directory entry.
    struct Member {
        var name: String
        var entry: Entry
        /// The declared (uncompressed) size, checked against the caps.
        var size: Int { Int(entry.uncompressedSize) }
    }

    /// The file as messages name it.
    let file: String
    /// The members, in archive order.
    let members: [Member]
    private let archive: Archive

    static let maxMembers = SafetyLimits.maxZipMembers
    static let maxMemberBytes = SafetyLimits.maxZipMemberBytes
    static let maxDeflateRatio = SafetyLimits.maxDeflateRatio

    /// Opens an archive file and checks its member list; extracts nothing.
    ///
    /// - Throws: a ``NumPyError`` naming the member.
    init(url: URL, name: String) throws {
        file = name
        // numpy reads members through their local headers: one that disagrees with the directory is damage.
        do {
            archive = try ZipLocalHeaders.openForReading(url)
        } catch {
            guard let member = error.member else { throw NumPyError.notAZip(file: name, reason: error.reason) }
            throw NumPyError.corruptMember(file: name, member: member, reason: error.reason)
        }
        var members: [Member] = []
        var seen = Set<String>()
        // stat, not FileManager's attributes (lstat): the path may be /proc/self/fd/N of a TemporaryFile.
        var info = stat()
        let fileSize = stat(url.path, &info) == 0 ? UInt64(clamping: info.st_size) : 0
        for entry in archive {
            let member = entry.path
            guard members.count < Self.maxMembers else {
                throw NumPyError.badMember(file: name, member: member, reason: "the archive holds more than \(Self.maxMembers) members")
            }
            guard entry.type == .file else { throw NumPyError.badMember(file: name, member: member, reason: "is not a regular file") }
            guard seen.insert(member).inserted else { throw NumPyError.badMember(file: name, member: member, reason: "appears twice") }
            let declared = entry.uncompressedSize, stored = entry.compressedSize
            let limit = min(Self.maxMemberBytes, entry.isCompressed ? stored.multipliedReportingOverflow(by: Self.maxDeflateRatio).partialValue + 1024 : fileSize)
            guard declared <= limit, stored <= fileSize else {
                throw NumPyError.memberTooLarge(file: name, member: member, declaredBytes: max(declared, stored), limit: limit)
            }
            members.append(Member(name: member, entry: entry))
        }
        self.members = members
    }

    /// Stops an extraction once the consumer has what it needs.
    private struct Enough: Error {}

    /// Extracts a member through `consumer`, which returns false to stop early (then neither the size nor the
    /// CRC-32 is checked: the member was not read to its end).
    ///
    /// - Throws: ``NumPyError/corruptMember(file:member:reason:)`` when the member decompresses to more or fewer
    ///   bytes than it declares, fails its CRC-32 or cannot be extracted; what `consumer` throws.
    func extract(_ member: Member, _ consumer: (UnsafeRawBufferPointer) throws -> Bool) throws {
        let declared = member.entry.uncompressedSize
        var count: UInt64 = 0
        let crc: CRC32
        do {
            // extract(_:consumer:) computes the CRC-32 but leaves comparing it to the caller.
            crc = try archive.extract(member.entry, skipCRC32: false) { chunk in
                guard count + UInt64(chunk.count) <= declared else {
                    throw NumPyError.corruptMember(file: file, member: member.name, reason: "decompresses to more than its declared \(declared) bytes")
                }
                count += UInt64(chunk.count)
                guard try chunk.withUnsafeBytes(consumer) else { throw Enough() }
            }
        } catch is Enough {
            return
        } catch let error as NumPyError {
            throw error
        } catch let error as ArchiveError {
            throw error
        } catch {
            throw NumPyError.corruptMember(file: file, member: member.name, reason: "cannot be extracted: \(error)")
        }
        guard count == declared else {
            throw NumPyError.corruptMember(file: file, member: member.name, reason: "holds \(count) bytes, its entry declares \(declared)")
        }
        guard crc == member.entry.checksum else {
            throw NumPyError.corruptMember(file: file, member: member.name,
                                           reason: "CRC-32 mismatch: stored \(Self.hex(member.entry.checksum)), computed \(Self.hex(crc)) (the member is damaged)")
        }
    }

    /// A whole member's bytes (for the small ones: the metadata text).
    func bytes(of member: Member) throws -> [UInt8] {
        var data: [UInt8] = []
        data.reserveCapacity(min(member.size, 1 << 26))
        try extract(member) { chunk in
            data += chunk
            return true
        }
        return data
    }

    /// A `.npy` member's header, from its first bytes only (checked against the declared size; the values and the
    /// CRC-32 are checked when the member is read with ``array(_:)``).
    ///
    /// - Throws: ``NumPyError/badArray(file:member:location:reason:)`` or an extraction error.
    func header(of member: Member) throws -> NumPyHeader {
        var parser = NumPyStreamParser(path: member.name, total: member.size)
        try arrayErrors(member) {
            try extract(member) { chunk in
                try parser.consume(chunk)
                return parser.header == nil
            }
            if parser.header == nil { _ = try parser.finish() }
        }
        guard let header = parser.header else { throw NumPyError.badArray(file: file, member: member.name, location: nil, reason: "no header") }
        return header
    }

    /// A whole `.npy` member, inflated and decoded one chunk at a time into its float32 values.
    ///
    /// - Throws: ``NumPyError/badArray(file:member:location:reason:)`` or an extraction error.
    func array(_ member: Member) throws -> NumPyArray {
        var parser = NumPyStreamParser(path: member.name, total: member.size)
        return try arrayErrors(member) {
            try extract(member) { chunk in
                try parser.consume(chunk)
                return true
            }
            return try parser.finish()
        }
    }

    /// Runs `body`, turning the ``ArchiveError`` of a bad `.npy` into ``NumPyError/badArray(file:member:location:reason:)``.
    func arrayErrors<T>(_ member: Member, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ArchiveError {
            if case let .invalid(_, location, reason) = error {
                throw NumPyError.badArray(file: file, member: member.name, location: location, reason: reason)
            }
            throw NumPyError.badArray(file: file, member: member.name, location: nil, reason: "\(error)")
        }
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }
}

/// Writes the members of an npz file one at a time: deterministic, members in the given order, stored or
/// deflated, all dated 1980-01-01 00:00 (the zip epoch). Each member's bytes come from a provider that
/// ZIPFoundation asks for one chunk at a time.
struct NPZArchiveWriter {
    let archive: Archive
    let compress: Bool

    /// An empty zip: the end-of-central-directory record alone, as ZIPFoundation's `.create` mode writes it.
    static let emptyArchive: [UInt8] = [0x50, 0x4B, 0x05, 0x06] + [UInt8](repeating: 0, count: 18)

    /// A writer into an archive held in memory (its bytes are ``bytes()``).
    static func inMemory(compress: Bool) throws -> NPZArchiveWriter {
        do {
            return NPZArchiveWriter(archive: try Archive(data: Data(), accessMode: .create), compress: compress)
        } catch {
            throw NumPyError.invalidWrite(reason: "zip: \(error)")
        }
    }

    /// A writer into the empty file at `path` (which may be `/proc/self/fd/N` of an unnamed file). ZIPFoundation's
    /// `.create` mode writes an empty end-of-central-directory record to a new file and continues as `.update`;
    /// the record is written here, then the archive is opened in `.update` mode: the same bytes.
    static func file(at path: String, for destination: String, compress: Bool) throws -> NPZArchiveWriter {
        try AtomicFile.fill(path, with: emptyArchive, for: destination)
        do {
            return NPZArchiveWriter(archive: try Archive(url: URL(fileURLWithPath: path), accessMode: .update), compress: compress)
        } catch {
            throw NumPyError.invalidWrite(reason: "zip: \(error)")
        }
    }

    /// Adds one member of `size` bytes, produced by `chunk(position, count)`.
    ///
    /// - Throws: ``NumPyError/invalidWrite(reason:)`` when ZIPFoundation fails; what `chunk` throws.
    func add(_ name: String, size: Int, chunk: @escaping (Int, Int) throws -> Data) throws {
        let epoch = Date(timeIntervalSince1970: 315_532_800) // 1980-01-01 00:00:00 UTC
        do {
            try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(size), modificationDate: epoch,
                                 permissions: 0o644, compressionMethod: compress ? .deflate : .none) { position, count in
                try chunk(Int(position), count)
            }
        } catch let error as NumPyError {
            throw error
        } catch let error as ArchiveError {
            throw error
        } catch {
            throw NumPyError.invalidWrite(reason: "zip: \(error)")
        }
    }

    /// Adds one member held in memory.
    func add(_ name: String, bytes: [UInt8]) throws {
        try add(name, size: bytes.count) { start, count in Data(bytes[start..<min(start + count, bytes.count)]) }
    }

    /// The bytes of an archive held in memory.
    func bytes() throws -> [UInt8] {
        guard let data = archive.data else { throw NumPyError.invalidWrite(reason: "the in-memory zip archive has no data") }
        return [UInt8](data)
    }
}

/// The members of an npz file held in memory (hand-made archives in tests).
struct NPZArchive {
    /// Member name (`conv2d.kernel.npy`) and bytes, in archive order.
    var members: [(name: String, bytes: [UInt8])]

    /// The archive's bytes.
    ///
    /// - Throws: ``NumPyError/invalidWrite(reason:)`` when ZIPFoundation fails.
    func encoded(compress: Bool) throws -> [UInt8] {
        let writer = try NPZArchiveWriter.inMemory(compress: compress)
        for (name, bytes) in members { try writer.add(name, bytes: bytes) }
        return try writer.bytes()
    }
}

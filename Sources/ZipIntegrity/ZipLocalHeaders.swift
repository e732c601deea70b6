#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import ZIPFoundation

/// The check of a zip archive's local file headers against its central directory, which ZIPFoundation does not
/// make (it reads names, sizes and checksums from the central directory only and skips each local header by its
/// lengths).
///
/// Other readers go by the local headers: Python's `zipfile` (numpy's `np.load`, Keras) refuses a member whose
/// local header names another file, and streaming readers take sizes and CRC-32 from the local header. A zip
/// whose two copies disagree is damaged, and must not pass as read whole when the tools users read it with
/// would refuse it or read something else.
public enum ZipLocalHeaders {
    /// Why an archive fails the check: the member (its central directory name) when known, and what is wrong.
    public struct Mismatch: Error, Sendable, Equatable {
        public var member: String?
        public var reason: String
    }

    /// Why a zip cannot be opened for reading: its central directory is unreadable (not a zip, or damaged), or a
    /// local header disagrees with it.
    public struct OpenFailure: Error, Sendable, Equatable {
        /// True when ZIPFoundation could not read the central directory; false for a ``Mismatch``.
        public var unreadable: Bool
        /// The member whose local header disagrees, when known.
        public var member: String?
        /// What is wrong.
        public var reason: String
    }

    /// Opens the zip file at `url` for reading, the one way CNNKit's zip readers (npz, `.keras`, `.pt`) open one:
    /// ZIPFoundation reads its central directory, then every local header is checked against it
    /// (``check(path:)``).
    ///
    /// - Throws: ``OpenFailure``.
    public static func openForReading(_ url: URL) throws(OpenFailure) -> Archive {
        let archive: Archive
        do {
            archive = try Archive(url: url, accessMode: .read)
        } catch {
            throw OpenFailure(unreadable: true, member: nil, reason: "\(error)")
        }
        do {
            try check(path: url.path)
        } catch {
            throw OpenFailure(unreadable: false, member: error.member, reason: error.reason)
        }
        return archive
    }

    /// Checks every central directory entry of the zip file at `path`: its local file header is inside the
    /// file and starts with the local header signature, and it names the same member with the same bytes,
    /// with the same compression method and, unless the entry uses a data descriptor (flag bit 3), the same
    /// CRC-32 and sizes. Zip64 end records and extra fields are followed.
    ///
    /// - Throws: ``Mismatch`` for the first disagreement or a directory that cannot be walked.
    public static func check(path: String) throws(Mismatch) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw Mismatch(member: nil, reason: "cannot open to check its local headers: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Mismatch(member: nil, reason: "cannot stat: \(String(cString: strerror(errno)))") }
        let file = File(fd: fd, size: UInt64(clamping: info.st_size))
        try file.checkLocalHeaders()
    }

    /// Reads with `pread`, every read checked against the file size.
    private struct File {
        let fd: Int32
        let size: UInt64

        func read(_ offset: UInt64, _ count: Int, _ what: String) throws(Mismatch) -> [UInt8] {
            guard count >= 0, offset <= size, UInt64(count) <= size - offset else {
                throw Mismatch(member: nil, reason: "\(what) at byte \(offset) (\(count) bytes) runs past the end of the \(size)-byte file")
            }
            var bytes = [UInt8](repeating: 0, count: count)
            var done = 0
            while done < count {
                let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
                guard n > 0 else { throw Mismatch(member: nil, reason: "cannot read \(what) at byte \(offset)") }
                done += n
            }
            return bytes
        }

        func checkLocalHeaders() throws(Mismatch) {
            let (count, directoryOffset, directorySize) = try endOfCentralDirectory()
            guard directorySize <= size, directoryOffset <= size - directorySize else {
                throw Mismatch(member: nil, reason: "the central directory (\(directorySize) bytes at byte \(directoryOffset)) runs past the end of the \(size)-byte file")
            }
            guard directorySize <= UInt64(Int.max) else { throw Mismatch(member: nil, reason: "central directory of \(directorySize) bytes") }
            let directory = try read(directoryOffset, Int(directorySize), "the central directory")
            var at = 0
            for index in 0..<count {
                guard at + 46 <= directory.count, directory.u32(at) == 0x0201_4B50 else {
                    throw Mismatch(member: nil, reason: "central directory entry \(index) at byte \(directoryOffset + UInt64(at)) is missing or has no signature")
                }
                let nameLength = Int(directory.u16(at + 28)), extraLength = Int(directory.u16(at + 30)), commentLength = Int(directory.u16(at + 32))
                guard at + 46 + nameLength + extraLength + commentLength <= directory.count else {
                    throw Mismatch(member: nil, reason: "central directory entry \(index) runs past the directory's end")
                }
                let name = Array(directory[(at + 46)..<(at + 46 + nameLength)])
                let member = String(decoding: name, as: UTF8.self)
                let extra = Array(directory[(at + 46 + nameLength)..<(at + 46 + nameLength + extraLength)])
                var uncompressed = UInt64(directory.u32(at + 24)), compressed = UInt64(directory.u32(at + 20))
                var offset = UInt64(directory.u32(at + 42))
                let zip64 = Zip64Extra(extra)
                if uncompressed == 0xFFFF_FFFF { uncompressed = try zip64.next(member) }
                if compressed == 0xFFFF_FFFF { compressed = try zip64.next(member) }
                if offset == 0xFFFF_FFFF { offset = try zip64.next(member) }
                // One disk only, and a file is a file: readers built on miniz (torch.load) refuse other disks and
                // read an entry whose external attributes mark a folder (DOS 0x10, or a Unix S_IFDIR mode) as one.
                let disk = directory.u16(at + 34), attributes = directory.u32(at + 38)
                guard disk == 0 || disk == 0xFFFF else {
                    throw Mismatch(member: member, reason: "central directory entry: starts on disk \(disk) (CNNKit reads single-disk zips)")
                }
                if !member.hasSuffix("/"), attributes & 0x10 != 0 || (attributes >> 16) & 0o170000 == 0o040000 {
                    throw Mismatch(member: member, reason: "central directory entry: its external attributes \(hex(attributes)) mark a folder, not a file")
                }
                try checkLocal(member: member, name: name, at: offset, flags: directory.u16(at + 8), method: directory.u16(at + 10),
                               crc: directory.u32(at + 16), compressed: compressed, uncompressed: uncompressed)
                at += 46 + nameLength + extraLength + commentLength
            }
        }

        private func checkLocal(member: String, name: [UInt8], at offset: UInt64, flags: UInt16, method: UInt16, crc: UInt32,
                                compressed: UInt64, uncompressed: UInt64) throws(Mismatch) {
            func fail(_ reason: String) -> Mismatch { Mismatch(member: member, reason: "local file header at byte \(offset): \(reason)") }
            let header: [UInt8]
            do {
                header = try read(offset, 30, "the local file header")
            } catch {
                throw fail(error.reason)
            }
            guard header.u32(0) == 0x0403_4B50 else { throw fail("no local header signature") }
            let localName: [UInt8]
            do {
                localName = try read(offset + 30, Int(header.u16(26)), "the local header's name")
            } catch {
                throw fail(error.reason)
            }
            guard localName == name else {
                throw fail("names '\(String(decoding: localName, as: UTF8.self))', the central directory '\(member)'")
            }
            guard header.u16(8) == method else { throw fail("compression method \(header.u16(8)), the central directory \(method)") }
            // With a data descriptor (bit 3) the local CRC-32 and sizes may be zero; they follow the data instead.
            guard flags & 0x0008 == 0, header.u16(6) & 0x0008 == 0 else { return }
            guard header.u32(14) == crc else { throw fail("CRC-32 \(hex(header.u32(14))), the central directory \(hex(crc))") }
            let localCompressed = UInt64(header.u32(18)), localUncompressed = UInt64(header.u32(22))
            // Zip64 members carry 0xFFFFFFFF here and their sizes in the local extra field; the directory's are checked.
            if localCompressed != 0xFFFF_FFFF, localCompressed != compressed {
                throw fail("\(localCompressed) stored bytes, the central directory \(compressed)")
            }
            if localUncompressed != 0xFFFF_FFFF, localUncompressed != uncompressed {
                throw fail("\(localUncompressed) bytes, the central directory \(uncompressed)")
            }
        }

        /// The entry count, offset and size of the central directory, from the end of central directory record
        /// (the last one whose comment ends the file, else the last signature found) and its zip64 form.
        private func endOfCentralDirectory() throws(Mismatch) -> (count: Int, offset: UInt64, size: UInt64) {
            guard size >= 22 else { throw Mismatch(member: nil, reason: "too short for a zip (\(size) bytes)") }
            let tailLength = Int(min(size, 22 + 65535))
            let tail = try read(size - UInt64(tailLength), tailLength, "the end of central directory record")
            var found: Int?
            var position = tailLength - 22
            while position >= 0 {
                if tail.u32(position) == 0x0605_4B50 {
                    if found == nil { found = position }
                    if position + 22 + Int(tail.u16(position + 20)) == tailLength { found = position; break }
                }
                position -= 1
            }
            guard let end = found else { throw Mismatch(member: nil, reason: "no end of central directory record") }
            // A single disk: this disk 0, the directory on disk 0, and all entries on it.
            guard tail.u16(end + 4) == 0, tail.u16(end + 6) == 0, tail.u16(end + 8) == tail.u16(end + 10) else {
                throw Mismatch(member: nil, reason: "the end of central directory record describes a multi-disk archive (disk \(tail.u16(end + 4)), directory on disk \(tail.u16(end + 6)), \(tail.u16(end + 8)) of \(tail.u16(end + 10)) entries on this disk); CNNKit reads single-disk zips")
            }
            var count = UInt64(tail.u16(end + 10)), directorySize = UInt64(tail.u32(end + 12)), directoryOffset = UInt64(tail.u32(end + 16))
            let saturated = count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF
            let eocdOffset = size - UInt64(tailLength) + UInt64(end)
            let locator = try eocdOffset >= 20 ? read(eocdOffset - 20, 20, "the zip64 end of central directory locator") : []
            let hasLocator = locator.count == 20 && locator.u32(0) == 0x0706_4B50
            // Where a zip64 locator precedes the record, readers take the zip64 record's values (ZIPFoundation and
            // Python's zipfile both do, whether or not the 32-bit fields are saturated), so those are the values
            // checked; a 32-bit field that is not saturated must agree with its zip64 value.
            if saturated || hasLocator {
                guard hasLocator else { throw Mismatch(member: nil, reason: "zip64 values without a zip64 end of central directory locator") }
                let record = try read(locator.u64(8), 56, "the zip64 end of central directory record")
                guard record.u32(0) == 0x0606_4B50 else { throw Mismatch(member: nil, reason: "no zip64 end of central directory record at byte \(locator.u64(8))") }
                guard locator.u32(4) == 0, locator.u32(16) <= 1, record.u32(16) == 0, record.u32(20) == 0, record.u64(24) == record.u64(32) else {
                    throw Mismatch(member: nil, reason: "the zip64 end of central directory record describes a multi-disk archive; CNNKit reads single-disk zips")
                }
                let zip64 = (count: record.u64(32), size: record.u64(40), offset: record.u64(48))
                guard count == 0xFFFF || count == zip64.count, directorySize == 0xFFFF_FFFF || directorySize == zip64.size,
                      directoryOffset == 0xFFFF_FFFF || directoryOffset == zip64.offset else {
                    throw Mismatch(member: nil, reason: "the zip64 end of central directory record (\(zip64.count) entries, \(zip64.size) bytes at byte \(zip64.offset)) disagrees with the end of central directory record (\(count) entries, \(directorySize) bytes at byte \(directoryOffset))")
                }
                (count, directorySize, directoryOffset) = zip64
            }
            // Each entry takes 46 bytes at least: a count the directory cannot hold is refused before looping.
            guard count <= directorySize / 46 + 1, let entries = Int(exactly: count) else {
                throw Mismatch(member: nil, reason: "\(count) entries cannot fit a central directory of \(directorySize) bytes")
            }
            return (entries, directoryOffset, directorySize)
        }
    }

    /// The zip64 extended information extra field (0x0001) of a central directory entry: its 8-byte values, in
    /// the order the entry's 0xFFFFFFFF fields ask for them.
    private final class Zip64Extra {
        var values: [UInt64] = []
        var used = 0

        init(_ extra: [UInt8]) {
            var at = 0
            while at + 4 <= extra.count {
                let id = extra.u16(at), length = Int(extra.u16(at + 2))
                guard at + 4 + length <= extra.count else { break }
                if id == 0x0001 {
                    var p = at + 4
                    while p + 8 <= at + 4 + length { values.append(extra.u64(p)); p += 8 }
                    break
                }
                at += 4 + length
            }
        }

        func next(_ member: String) throws(Mismatch) -> UInt64 {
            guard used < values.count else { throw Mismatch(member: member, reason: "a zip64 size or offset is missing from its extra field") }
            used += 1
            return values[used - 1]
        }
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

extension Array where Element == UInt8 {
    fileprivate func u16(_ at: Int) -> UInt16 { UInt16(self[at]) | UInt16(self[at + 1]) << 8 }
    fileprivate func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
    fileprivate func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }
}

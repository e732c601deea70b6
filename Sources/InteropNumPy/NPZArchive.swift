import Foundation
import ModelArchive
import ZIPFoundation
import ZipIntegrity

/// The members of an npz file (a zip of `.npy` files), read and written through ZIPFoundation.
///
/// Reading checks each member's declared size against caps before extracting it, extracts into a buffer
/// that may not grow past the declared size, and compares the CRC-32 ZIPFoundation computes with the stored one. Writing is
/// deterministic: members in the given order, stored or deflated, all dated 1980-01-01 00:00 (the zip epoch).
struct NPZArchive {
    /// Member name (`conv2d.kernel.npy`) and bytes, in archive order.
    var members: [(name: String, bytes: [UInt8])]

    static let maxMembers = SafetyLimits.maxZipMembers
    static let maxMemberBytes = SafetyLimits.maxZipMemberBytes
    static let maxDeflateRatio = SafetyLimits.maxDeflateRatio

    /// Reads every member of an archive held in memory, through a temporary file.
    ///
    /// ZIPFoundation 0.9.20's in-memory archives trap when a damaged archive makes it seek past the end
    /// (`Archive.MemoryFile.readData` forms a negative range), so reading always goes through a real file,
    /// where such a read returns no bytes and ZIPFoundation throws. The file is a ``TemporaryFile`` in the
    /// system's temporary folder (unnamed on Linux, so nothing is left behind even if the process is killed).
    ///
    /// - Throws: a ``NumPyError`` naming the member.
    static func read(bytes: [UInt8], name: String) throws -> NPZArchive {
        let temp: TemporaryFile
        do {
            temp = try TemporaryFile(in: TemporaryFile.systemFolder, base: "cnnkit-npz")
            try bytes.withUnsafeBytes { raw in try FileIO.writeAll(temp.descriptor, raw) }
        } catch {
            throw NumPyError.notAZip(file: name, reason: "cannot stage the bytes in a temporary file: \(error)")
        }
        defer { temp.remove() }
        return try read(url: URL(fileURLWithPath: temp.path), name: name)
    }

    /// Reads every member of an archive file.
    ///
    /// - Throws: a ``NumPyError`` naming the member.
    static func read(url: URL, name: String) throws -> NPZArchive {
        let archive: Archive
        do {
            archive = try Archive(url: url, accessMode: .read)
        } catch {
            throw NumPyError.notAZip(file: name, reason: "\(error)")
        }
        // numpy reads members through their local headers: one that disagrees with the directory is damage.
        do {
            try ZipLocalHeaders.check(path: url.path)
        } catch {
            guard let member = error.member else { throw NumPyError.notAZip(file: name, reason: error.reason) }
            throw NumPyError.corruptMember(file: name, member: member, reason: error.reason)
        }
        var members: [(name: String, bytes: [UInt8])] = []
        var seen = Set<String>()
        // stat, not FileManager's attributes (lstat): the path may be /proc/self/fd/N of a TemporaryFile.
        var info = stat()
        let fileSize = stat(url.path, &info) == 0 ? UInt64(clamping: info.st_size) : 0
        for entry in archive {
            let member = entry.path
            guard members.count < maxMembers else {
                throw NumPyError.badMember(file: name, member: member, reason: "the archive holds more than \(maxMembers) members")
            }
            guard entry.type == .file else { throw NumPyError.badMember(file: name, member: member, reason: "is not a regular file") }
            guard seen.insert(member).inserted else { throw NumPyError.badMember(file: name, member: member, reason: "appears twice") }
            let declared = entry.uncompressedSize, stored = entry.compressedSize
            let limit = min(maxMemberBytes, entry.isCompressed ? stored.multipliedReportingOverflow(by: maxDeflateRatio).partialValue + 1024 : fileSize)
            guard declared <= limit, stored <= fileSize else {
                throw NumPyError.memberTooLarge(file: name, member: member, declaredBytes: max(declared, stored), limit: limit)
            }
            var data: [UInt8] = []
            data.reserveCapacity(Int(min(declared, 1 << 26)))
            let crc: CRC32
            do {
                // extract(_:consumer:) computes the CRC-32 but leaves comparing it to the caller.
                crc = try archive.extract(entry, skipCRC32: false) { chunk in
                    guard UInt64(data.count) + UInt64(chunk.count) <= declared else {
                        throw NumPyError.corruptMember(file: name, member: member, reason: "decompresses to more than its declared \(declared) bytes")
                    }
                    data += chunk
                }
            } catch let error as NumPyError {
                throw error
            } catch {
                throw NumPyError.corruptMember(file: name, member: member, reason: "cannot be extracted: \(error)")
            }
            guard UInt64(data.count) == declared else {
                throw NumPyError.corruptMember(file: name, member: member, reason: "holds \(data.count) bytes, its entry declares \(declared)")
            }
            guard crc == entry.checksum else {
                throw NumPyError.corruptMember(file: name, member: member,
                                               reason: "CRC-32 mismatch: stored \(hex(entry.checksum)), computed \(hex(crc)) (the member is damaged)")
            }
            members.append((member, data))
        }
        return NPZArchive(members: members)
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// The archive's bytes.
    ///
    /// - Throws: ``NumPyError/invalidWrite(reason:)`` when ZIPFoundation fails.
    func encoded(compress: Bool) throws -> [UInt8] {
        do {
            let archive = try Archive(data: Data(), accessMode: .create)
            let epoch = Date(timeIntervalSince1970: 315_532_800) // 1980-01-01 00:00:00 UTC
            for (name, bytes) in members {
                try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(bytes.count), modificationDate: epoch,
                                     permissions: 0o644, compressionMethod: compress ? .deflate : .none) { position, size in
                    let start = Int(position)
                    return Data(bytes[start..<min(start + size, bytes.count)])
                }
            }
            guard let data = archive.data else { throw NumPyError.invalidWrite(reason: "the in-memory zip archive has no data") }
            return [UInt8](data)
        } catch let error as NumPyError {
            throw error
        } catch {
            throw NumPyError.invalidWrite(reason: "zip: \(error)")
        }
    }
}

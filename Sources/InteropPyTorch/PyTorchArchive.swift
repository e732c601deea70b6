#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import ModelArchive
import ZIPFoundation
import ZipIntegrity

/// A `torch.save` zip opened for reading (`Schemas/pytorch.md` section 1): its members checked (local headers
/// against the central directory, one top-level folder, no TorchScript parts), `byteorder` and `version` read,
/// and any member extracted on demand with its size capped and its CRC-32 compared.
final class PyTorchArchive {
    let file: String
    /// The top-level folder with its slash (`model/`).
    let prefix: String
    /// `version`'s text, trimmed ("3"); nil when the member is absent.
    private(set) var version: String?
    private let archive: Archive
    private let entries: [String: Entry]
    private let fileSize: UInt64

    /// The first bytes of a legacy (pre-zip) `torch.save` file: PROTO 2, then LONG1 of the magic number
    /// 0x1950a86a20f9469cfc6c.
    static let legacyMagic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    /// The name of a zip's first local file header, if the bytes start with one.
    static func firstMemberName(_ prefix: [UInt8]) -> String? {
        guard prefix.count >= 30, prefix.starts(with: [0x50, 0x4B, 0x03, 0x04]) else { return nil }
        let length = Int(prefix[26]) | Int(prefix[27]) << 8
        guard 30 + length <= prefix.count else { return nil }
        return String(decoding: prefix[30..<(30 + length)], as: UTF8.self)
    }

    init(path: String) throws {
        file = path
        let opened: (fd: Int32, size: UInt64)
        do {
            opened = try InputFile.open(path)
        } catch {
            throw PyTorchError.missingFile(path: path, reason: "\(error)")
        }
        var head = [UInt8](repeating: 0, count: 14)
        let got = (try? head.withUnsafeMutableBytes { try FileIO.read(opened.fd, into: $0, at: 0) }) ?? 0
        close(opened.fd)
        fileSize = opened.size
        if got == 14 && head == Self.legacyMagic { throw PyTorchError.legacyFormat(file: path) }
        do {
            archive = try ZipLocalHeaders.openForReading(URL(fileURLWithPath: path))
        } catch {
            throw PyTorchError.archive(file: path, member: error.member,
                                       reason: error.unreadable ? "not a zip archive CNNKit can read (\(error.reason)); \(PyTorchError.resave)" : error.reason)
        }
        var entries: [String: Entry] = [:]
        var folder: String?
        for entry in archive {
            let name = entry.path
            guard entries.count < SafetyLimits.maxZipMembers else {
                throw PyTorchError.archive(file: path, member: name, reason: "the archive holds more than \(SafetyLimits.maxZipMembers) members")
            }
            guard entry.type == .file else { throw PyTorchError.archive(file: path, member: name, reason: "is not a regular file") }
            guard let slash = name.firstIndex(of: "/"), slash != name.startIndex else {
                throw PyTorchError.archive(file: path, member: name, reason: "is not inside the archive's one top-level folder (torch.save puts every member in NAME/)")
            }
            let top = String(name[...slash])
            if folder == nil { folder = top }
            guard top == folder else { throw PyTorchError.archive(file: path, member: name, reason: "is outside the top-level folder \(folder!) of the first member") }
            guard entries.updateValue(entry, forKey: name) == nil else { throw PyTorchError.archive(file: path, member: name, reason: "appears twice") }
        }
        guard let folder else { throw PyTorchError.archive(file: path, member: nil, reason: "the zip holds no members") }
        prefix = folder
        self.entries = entries
        for name in entries.keys.sorted() {
            let inner = name.dropFirst(folder.count)
            if inner == "constants.pkl" || inner.hasPrefix("code/") || inner == "bytecode.pkl" { throw PyTorchError.torchScript(file: path, member: name) }
        }
        guard entries[folder + "data.pkl"] != nil else {
            throw PyTorchError.archive(file: path, member: folder + "data.pkl", reason: "is missing: a torch.save zip holds NAME/data.pkl")
        }
        if entries[folder + "byteorder"] != nil {
            let order = String(decoding: try read(folder + "byteorder", limit: 64), as: UTF8.self)
            guard order == "little" else {
                throw PyTorchError.archive(file: path, member: folder + "byteorder", reason: "is '\(order)'; CNNKit reads little-endian storages only ('little')")
            }
        }
        if entries[folder + "version"] != nil {
            let text = String(decoding: try read(folder + "version", limit: 64), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let number = Int(text), number >= 1, number <= 10 else {
                throw PyTorchError.archive(file: path, member: folder + "version", reason: "is '\(text)'; a file format version of 1 to 10 expected")
            }
            version = text
        }
    }

    /// True when the archive holds `name` (a full member name).
    func contains(_ name: String) -> Bool { entries[name] != nil }

    /// A member's uncompressed size as its entry declares it.
    func size(of name: String) -> UInt64? { entries[name]?.uncompressedSize }

    /// Extracts a member whole, refusing more than `limit` bytes, a declared size the stored bytes cannot hold,
    /// and a CRC-32 mismatch.
    func read(_ name: String, limit: UInt64 = SafetyLimits.maxZipMemberBytes) throws -> [UInt8] {
        guard let entry = entries[name] else { throw PyTorchError.archive(file: file, member: name, reason: "is missing") }
        let declared = entry.uncompressedSize, stored = entry.compressedSize
        let cap = min(limit, entry.isCompressed ? stored.multipliedReportingOverflow(by: SafetyLimits.maxDeflateRatio).partialValue + 1024 : fileSize)
        guard declared <= cap, stored <= fileSize else {
            throw PyTorchError.archive(file: file, member: name, reason: "declares \(max(declared, stored)) bytes, over the limit of \(cap)")
        }
        var data: [UInt8] = []
        data.reserveCapacity(Int(declared))
        let crc: CRC32
        do {
            crc = try archive.extract(entry, skipCRC32: false) { chunk in
                guard UInt64(data.count) + UInt64(chunk.count) <= declared else {
                    throw PyTorchError.archive(file: self.file, member: name, reason: "holds more than its declared \(declared) bytes")
                }
                data += chunk
            }
        } catch let error as PyTorchError {
            throw error
        } catch {
            throw PyTorchError.archive(file: file, member: name, reason: "cannot be extracted: \(error)")
        }
        guard UInt64(data.count) == declared else {
            throw PyTorchError.archive(file: file, member: name, reason: "holds \(data.count) bytes, its entry declares \(declared) (the zip is truncated or damaged)")
        }
        guard crc == entry.checksum else {
            throw PyTorchError.archive(file: file, member: name, reason: "CRC-32 mismatch: stored \(entry.checksum), computed \(crc) (the member is damaged)")
        }
        return data
    }
}

import ZlibCoding
import ZstdCoding
import ModelArchive

/// The fixed numbers of the CNNZ layout (`Schemas/cnnz.md` sections 2 and 3).
public enum CNNZLayout {
    /// The magic: `\x89CNNZ\r\n\x1a` (PNG-style, catches text-mode and truncation damage).
    public static let magic: [UInt8] = [0x89, 0x43, 0x4E, 0x4E, 0x5A, 0x0D, 0x0A, 0x1A]
    /// The 9-byte signature: ``magic`` followed by a lone `\n` (section 2.1).
    public static let signature: [UInt8] = magic + [0x0A]
    /// The major version this library writes and reads.
    public static let majorVersion = 1
    /// The highest minor version this library writes (1: `shuffle-zstd`); a file gets the lowest minor that holds
    /// its codecs (``CNNZCodec/minorVersion``). Readers accept any minor of a known major.
    public static let minorVersion = 1
    /// The preamble's size in bytes; tensor data starts right after it.
    public static let preambleSize = 16
    /// The footer's size in bytes.
    public static let footerSize = 32
    /// The end marker at footer bytes 20..<24: `CNNZ`.
    public static let endMarker: [UInt8] = [0x43, 0x4E, 0x4E, 0x5A]
    /// The alignment of the first chunk of a `raw` tensor (section 3.2).
    public static let alignment = 64
    /// The largest raw chunk size a file may declare: 1 MiB.
    public static let maxChunkSize = 1 << 20
    /// The most a deflate chunk can expand: a raw chunk larger than this times its stored size is refused before
    /// anything is allocated.
    public static let maxDeflateRatio: UInt64 = SafetyLimits.maxDeflateRatio
    /// The most a `shuffle-zstd` chunk can expand (``ZstdCoding/Zstd/maxExpansionRatio``, 32768): checked like
    /// ``maxDeflateRatio`` before anything is allocated.
    public static let maxZstdRatio: UInt64 = Zstd.maxExpansionRatio

    /// The 16-byte preamble for a version (section 2.1).
    static func preamble(major: Int = majorVersion, minor: Int = minorVersion) -> [UInt8] {
        var bytes = signature + [UInt8(truncatingIfNeeded: major), UInt8(truncatingIfNeeded: minor), 0]
        bytes.appendLittleEndian(CRC32.checksum(bytes))
        return bytes
    }

    /// The 32-byte footer locating the header (section 2.3).
    static func footer(headerOffset: UInt64, headerLength: UInt64, headerCRC: UInt32) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(footerSize)
        bytes.appendLittleEndian(headerOffset)
        bytes.appendLittleEndian(headerLength)
        bytes.appendLittleEndian(headerCRC)
        bytes += endMarker
        bytes.appendLittleEndian(UInt32(0))
        bytes.appendLittleEndian(CRC32.checksum(bytes))
        return bytes
    }

    /// The number of zero bytes that bring `offset` to the next multiple of ``alignment``.
    static func padding(at offset: UInt64) -> UInt64 {
        let a = UInt64(alignment)
        return (a - offset % a) % a
    }
}

/// CRC-32 (ISO-HDLC, as zlib, PNG and gzip compute it) through ``Zlib/crc32(_:start:)``.
enum CRC32 {
    /// The CRC-32 of `bytes`, continuing from `start`.
    static func checksum(_ bytes: UnsafeRawBufferPointer, start: UInt32 = 0) -> UInt32 {
        Zlib.crc32(bytes, start: start)
    }

    /// The CRC-32 of an array of bytes.
    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }
}

extension Array where Element == UInt8 {
    /// Appends an unsigned integer in little-endian order.
    mutating func appendLittleEndian<T: FixedWidthInteger & UnsignedInteger>(_ value: T) {
        var v = value.littleEndian
        Swift.withUnsafeBytes(of: &v) { append(contentsOf: $0) }
    }
}

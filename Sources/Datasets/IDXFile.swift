import ConvNet
import Foundation
import ModelArchive

/// An IDX file (LeCun's MNIST format) of unsigned bytes, gzip-compressed or not.
///
/// Layout: two zero bytes, a type byte (`0x08` = unsigned byte), the number of dimensions, each dimension as a
/// big-endian UInt32, then the data, row-major. The data must hold exactly the product of the dimensions.
public struct IDXFile: Sendable {
    public var dimensions: [Int]
    public var bytes: [UInt8]
    /// Where the data starts in the decompressed stream.
    public var dataOffset: Int

    /// The most bytes an IDX file may decompress to (2 GiB).
    public static let maximumSize = 1 << 31

    /// Reads an IDX file (gzip or not). Only a regular file is read (``InputFile``): a FIFO, device, socket,
    /// folder or symbolic link loop is refused with ``DatasetError/datasetUnreadable(path:reason:)`` saying what
    /// it is, before anything opens it.
    public static func read(path: String) throws -> IDXFile {
        let raw: [UInt8]
        do {
            raw = try InputFile.read(path)
        } catch {
            if case let .missingFile(_, reason) = error { throw DatasetError.datasetUnreadable(path: path, reason: reason) }
            throw DatasetError.datasetUnreadable(path: path, reason: error.description)
        }
        let bytes = Gzip.isGzip(raw) ? try Gzip.decompress(raw, limit: maximumSize, path: path) : raw
        return try parse(bytes, path: path)
    }

    public static func parse(_ bytes: [UInt8], path: String) throws -> IDXFile {
        guard bytes.count >= 4 else {
            throw DatasetError.datasetCorrupt(path: path, offset: bytes.count, reason: "file ends inside the 4-byte IDX magic")
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw DatasetError.datasetCorrupt(path: path, offset: 0, reason: "not an IDX file (expected magic 00 00, found \(hex(bytes[0])) \(hex(bytes[1])))")
        }
        guard bytes[2] == 0x08 else {
            throw DatasetError.datasetCorrupt(path: path, offset: 2, reason: "IDX element type \(hex(bytes[2])) is not unsigned byte (08)")
        }
        let rank = Int(bytes[3])
        guard rank >= 1 else { throw DatasetError.datasetCorrupt(path: path, offset: 3, reason: "IDX rank must be at least 1") }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw DatasetError.datasetCorrupt(path: path, offset: bytes.count, reason: "file ends inside the IDX header (\(headerSize) bytes expected)")
        }
        var dims: [Int] = []
        for d in 0..<rank {
            let o = 4 + 4 * d
            dims.append(Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3]))
        }
        guard let count = Tensor.elementCount(dims), count <= maximumSize else {
            throw DatasetError.datasetCorrupt(path: path, offset: 4, reason: "dimensions \(dims) describe more than \(maximumSize) bytes")
        }
        let available = bytes.count - headerSize
        guard available == count else {
            let what = available < count ? "truncated" : "has trailing bytes"
            throw DatasetError.datasetCorrupt(path: path, offset: bytes.count,
                                              reason: "\(what): header \(dims) promises \(count) data bytes, found \(available)")
        }
        return IDXFile(dimensions: dims, bytes: Array(bytes[headerSize...]), dataOffset: headerSize)
    }

    private static func hex(_ b: UInt8) -> String {
        let s = String(b, radix: 16)
        return s.count == 1 ? "0" + s : s
    }
}

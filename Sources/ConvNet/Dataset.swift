import Foundation

/// Labelled images held as raw bytes (0-255), N x H x W x C, row-major.
public struct Dataset: Sendable {
    public var images: [UInt8]
    public var labels: [UInt8]
    public var height: Int
    public var width: Int
    public var channels: Int

    public init(images: [UInt8], labels: [UInt8], height: Int, width: Int, channels: Int = 1) {
        self.images = images
        self.labels = labels
        self.height = height
        self.width = width
        self.channels = channels
    }

    public var count: Int { labels.count }
    public var imageSize: Int { height * width * channels }

    /// The first `n` examples (all when `n` is nil or larger than the set).
    public func prefix(_ n: Int?) -> Dataset {
        guard let n, n < count else { return self }
        return Dataset(images: Array(images[0..<(n * imageSize)]), labels: Array(labels[0..<n]), height: height, width: width, channels: channels)
    }

    /// FNV-1a 64 over the image bytes then the label bytes, as 16 hex digits.
    public func fingerprint() -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for bytes in [images, labels] {
            bytes.withUnsafeBufferPointer { buffer in
                for b in buffer { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
            }
        }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// The Fashion-MNIST files as Debian's `dataset-fashion-mnist` installs them.
public enum FashionMNIST {
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    public static let debianPackage = "dataset-fashion-mnist"

    public enum Split: String, Sendable {
        case train
        case test

        var prefix: String { self == .train ? "train" : "t10k" }
    }

    /// Loads one split, optionally only its first `limit` examples.
    ///
    /// - Throws: ``ConvNetError/datasetMissing(path:package:)`` when a file is absent (naming the apt package),
    ///   ``ConvNetError/datasetCorrupt(path:offset:reason:)`` for a bad header, truncation or mismatch.
    public static func load(directory: String = defaultDirectory, split: Split, limit: Int? = nil) throws -> Dataset {
        let imagesPath = try locate(directory: directory, base: "\(split.prefix)-images-idx3-ubyte")
        let labelsPath = try locate(directory: directory, base: "\(split.prefix)-labels-idx1-ubyte")
        let images = try IDXFile.read(path: imagesPath)
        let labels = try IDXFile.read(path: labelsPath)
        guard images.dimensions.count == 3 else {
            throw ConvNetError.datasetCorrupt(path: imagesPath, offset: 3, reason: "expected 3 dimensions (N, H, W), found \(images.dimensions.count)")
        }
        guard labels.dimensions.count == 1 else {
            throw ConvNetError.datasetCorrupt(path: labelsPath, offset: 3, reason: "expected 1 dimension (N), found \(labels.dimensions.count)")
        }
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw ConvNetError.datasetCorrupt(path: labelsPath, offset: 4,
                                              reason: "holds \(labels.dimensions[0]) labels but \(imagesPath) holds \(images.dimensions[0]) images")
        }
        if let bad = labels.bytes.firstIndex(where: { $0 > 9 }) {
            throw ConvNetError.datasetCorrupt(path: labelsPath, offset: labels.dataOffset + bad, reason: "label \(labels.bytes[bad]) is not a class 0-9")
        }
        let set = Dataset(images: images.bytes, labels: labels.bytes, height: images.dimensions[1], width: images.dimensions[2])
        return set.prefix(limit)
    }

    static func locate(directory: String, base: String) throws -> String {
        let fm = FileManager.default
        for candidate in ["\(directory)/\(base).gz", "\(directory)/\(base)"] where fm.fileExists(atPath: candidate) {
            return candidate
        }
        throw ConvNetError.datasetMissing(path: "\(directory)/\(base).gz", package: debianPackage)
    }
}

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

    public static func read(path: String) throws -> IDXFile {
        let raw: [UInt8]
        do {
            raw = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw ConvNetError.datasetUnreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        let bytes = Gzip.isGzip(raw) ? try Gzip.decompress(raw, limit: maximumSize, path: path) : raw
        return try parse(bytes, path: path)
    }

    public static func parse(_ bytes: [UInt8], path: String) throws -> IDXFile {
        guard bytes.count >= 4 else {
            throw ConvNetError.datasetCorrupt(path: path, offset: bytes.count, reason: "file ends inside the 4-byte IDX magic")
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw ConvNetError.datasetCorrupt(path: path, offset: 0, reason: "not an IDX file (expected magic 00 00, found \(hex(bytes[0])) \(hex(bytes[1])))")
        }
        guard bytes[2] == 0x08 else {
            throw ConvNetError.datasetCorrupt(path: path, offset: 2, reason: "IDX element type \(hex(bytes[2])) is not unsigned byte (08)")
        }
        let rank = Int(bytes[3])
        guard rank >= 1 else { throw ConvNetError.datasetCorrupt(path: path, offset: 3, reason: "IDX rank must be at least 1") }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw ConvNetError.datasetCorrupt(path: path, offset: bytes.count, reason: "file ends inside the IDX header (\(headerSize) bytes expected)")
        }
        var dims: [Int] = []
        for d in 0..<rank {
            let o = 4 + 4 * d
            dims.append(Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3]))
        }
        guard let count = Tensor.elementCount(dims), count <= maximumSize else {
            throw ConvNetError.datasetCorrupt(path: path, offset: 4, reason: "dimensions \(dims) describe more than \(maximumSize) bytes")
        }
        let available = bytes.count - headerSize
        guard available == count else {
            let what = available < count ? "truncated" : "has trailing bytes"
            throw ConvNetError.datasetCorrupt(path: path, offset: bytes.count,
                                              reason: "\(what): header \(dims) promises \(count) data bytes, found \(available)")
        }
        return IDXFile(dimensions: dims, bytes: Array(bytes[headerSize...]), dataOffset: headerSize)
    }

    private static func hex(_ b: UInt8) -> String {
        let s = String(b, radix: 16)
        return s.count == 1 ? "0" + s : s
    }
}

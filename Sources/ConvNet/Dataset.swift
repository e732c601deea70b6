/// Labelled images held as raw bytes (0-255), N x H x W x C, row-major.
public struct Dataset: Sendable {
    /// Raw pixels, `count x height x width x channels`, image after image.
    public var images: [UInt8]
    /// One label per image.
    public var labels: [UInt8]
    /// Image rows.
    public var height: Int
    /// Image columns.
    public var width: Int
    /// Channels per pixel.
    public var channels: Int

    /// A data set from its parts.
    public init(images: [UInt8], labels: [UInt8], height: Int, width: Int, channels: Int = 1) {
        self.images = images
        self.labels = labels
        self.height = height
        self.width = width
        self.channels = channels
    }

    /// Examples.
    public var count: Int { labels.count }
    /// Values per image.
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

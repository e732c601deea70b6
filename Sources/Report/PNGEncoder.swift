import ZlibCoding

/// PNG encoding of ``RGBImage``s (8-bit truecolour, no interlace), with zlib's deflate and CRC-32.
///
/// Each scanline carries filter type 0 (none); the image data is one zlib stream split into `IDAT` chunks of at
/// most 64 KiB. The result passes a real decoder's checks (chunk CRCs, the zlib stream, the Adler-32).
public enum PNGEncoder {
    /// The eight bytes every PNG file starts with.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// The largest `IDAT` chunk written.
    static let idatChunkSize = 1 << 16

    /// The PNG bytes of `image`.
    ///
    /// - Throws: ``PNGFailure`` for an empty image, one wider or taller than PNG allows, or when zlib fails;
    ///   callers wrap it in ``ReportError/cannotEncode(file:reason:)`` with the file.
    public static func encode(_ image: RGBImage) throws(PNGFailure) -> [UInt8] {
        guard image.width > 0, image.height > 0, image.width <= Int(Int32.max), image.height <= Int(Int32.max) else {
            throw PNGFailure(reason: "a \(image.width) x \(image.height) image cannot be a PNG")
        }
        var raw: [UInt8] = []
        let rowBytes = image.width * 3
        raw.reserveCapacity((rowBytes + 1) * image.height)
        for y in 0..<image.height {
            raw.append(0)
            raw.append(contentsOf: image.pixels[(y * rowBytes)..<((y + 1) * rowBytes)])
        }
        let compressed: [UInt8]
        do {
            compressed = try Zlib.deflate(raw, level: 6, strategy: .standard)
        } catch {
            throw PNGFailure(reason: "zlib: \(error.reason)")
        }
        var png = signature
        var header: [UInt8] = []
        header.appendBigEndian(UInt32(image.width))
        header.appendBigEndian(UInt32(image.height))
        header += [8, 2, 0, 0, 0]  // bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace
        appendChunk("IHDR", header, to: &png)
        var offset = 0
        repeat {
            let end = min(offset + idatChunkSize, compressed.count)
            appendChunk("IDAT", Array(compressed[offset..<end]), to: &png)
            offset = end
        } while offset < compressed.count
        appendChunk("IEND", [], to: &png)
        return png
    }

    /// One chunk: length, type, data, CRC-32 of type and data.
    static func appendChunk(_ type: String, _ data: [UInt8], to png: inout [UInt8]) {
        png.appendBigEndian(UInt32(data.count))
        let typed = Array(type.utf8) + data
        png += typed
        png.appendBigEndian(typed.withUnsafeBytes { Zlib.crc32($0) })
    }
}

/// Why an image could not be encoded, phrased for an error message that names the file.
public struct PNGFailure: Error, Sendable, Equatable {
    /// What went wrong.
    public var reason: String
}

extension [UInt8] {
    mutating func appendBigEndian(_ value: UInt32) {
        append(contentsOf: [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)])
    }
}

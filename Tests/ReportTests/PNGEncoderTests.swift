import Testing
import ZlibCoding
@testable import Report

/// A strict little PNG reader for the tests: signature, chunk order and CRCs, IHDR fields, the zlib stream of the
/// IDAT chunks inflated to exactly the expected size, filter bytes, then the pixels.
func decodePNG(_ bytes: [UInt8]) throws -> RGBImage {
    #expect(Array(bytes.prefix(8)) == PNGEncoder.signature)
    var offset = 8
    var types: [String] = []
    var header: [UInt8] = []
    var idat: [UInt8] = []
    func word(_ at: Int) -> Int { Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3]) }
    while offset < bytes.count {
        let length = word(offset)
        let typed = Array(bytes[(offset + 4)..<(offset + 8 + length)])
        let type = String(decoding: typed.prefix(4), as: UTF8.self)
        let crc = UInt32(word(offset + 8 + length))
        #expect(typed.withUnsafeBytes { Zlib.crc32($0) } == crc, "CRC of \(type)")
        types.append(type)
        if type == "IHDR" { header = Array(typed.dropFirst(4)) }
        if type == "IDAT" { idat += typed.dropFirst(4) }
        offset += 12 + length
    }
    #expect(offset == bytes.count)
    #expect(types.first == "IHDR" && types.last == "IEND" && types.dropFirst().dropLast().allSatisfy { $0 == "IDAT" })
    let width = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
    let height = Int(header[4]) << 24 | Int(header[5]) << 16 | Int(header[6]) << 8 | Int(header[7])
    #expect(Array(header[8...]) == [8, 2, 0, 0, 0])
    let raw = try idat.withUnsafeBytes { try Zlib.inflate($0, rawCount: (width * 3 + 1) * height) }
    var image = RGBImage(width: width, height: height)
    for y in 0..<height {
        #expect(raw[y * (width * 3 + 1)] == 0, "filter byte of row \(y)")
        for i in 0..<(width * 3) { image.pixels[y * width * 3 + i] = raw[y * (width * 3 + 1) + 1 + i] }
    }
    return image
}

@Suite("PNG encoder")
struct PNGEncoderTests {
    @Test("an image decodes back to its pixels", arguments: [(1, 1), (3, 2), (37, 11), (300, 257)])
    func roundTrip(width: Int, height: Int) throws {
        var image = RGBImage(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width { image[x, y] = RGB(UInt8(x % 256), UInt8(y % 256), UInt8((x * 7 + y * 13) % 256)) }
        }
        let decoded = try decodePNG(try PNGEncoder.encode(image))
        #expect(decoded == image)
    }

    @Test("image data larger than one chunk is split into several IDAT chunks")
    func severalChunks() throws {
        // Incompressible pixels: more than 64 KiB of zlib data.
        var image = RGBImage(width: 200, height: 200)
        var state: UInt32 = 1
        for i in image.pixels.indices {
            state = state &* 1_664_525 &+ 1_013_904_223
            image.pixels[i] = UInt8(state >> 24)
        }
        let png = try PNGEncoder.encode(image)
        #expect(png.count > PNGEncoder.idatChunkSize)
        #expect(try decodePNG(png) == image)
    }

    @Test("an empty image is refused")
    func empty() {
        #expect(throws: PNGFailure(reason: "a 0 x 3 image cannot be a PNG")) { try PNGEncoder.encode(RGBImage(width: 0, height: 3)) }
    }
}

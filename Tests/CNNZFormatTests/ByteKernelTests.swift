import ConvNet
import Testing
import ZlibCoding
@testable import CNNZFormat

/// The SIMD byte kernels (CNNKitByteKernels) against plain bytewise definitions: CRC-32 folding with
/// carry-less multiplication, the byte shuffle and unshuffle, and bfloat16 planes straight to float32.
@Suite("CNNZ byte kernels")
struct ByteKernelTests {
    /// The CRC-32 (ISO-HDLC) of `bytes`, bit by bit: the definition the folded CRC must equal.
    static func bitwiseCRC(_ bytes: ArraySlice<UInt8>, start: UInt32 = 0) -> UInt32 {
        var crc = ~start
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    static func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = RandomGenerator(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    @Test("CRC-32 equals the bitwise definition for every length 0-300, any start value and unaligned starts")
    func crcLengths() {
        let bytes = Self.randomBytes(300 + 16, seed: 1)
        for offset in [0, 1, 7, 15] {
            for length in 0...300 {
                let slice = bytes[offset..<(offset + length)]
                let start = UInt32(truncatingIfNeeded: length &* 2_654_435_761)
                let found = slice.withUnsafeBytes { Zlib.crc32($0, start: start) }
                #expect(found == Self.bitwiseCRC(slice, start: start), "offset \(offset), length \(length)")
            }
        }
    }

    @Test("CRC-32 of long buffers (the folded path) equals the bitwise definition and chains across calls")
    func crcLong() {
        let bytes = Self.randomBytes(200_003, seed: 2)
        let whole = bytes.withUnsafeBytes { Zlib.crc32($0) }
        #expect(whole == Self.bitwiseCRC(bytes[...]))
        let split = bytes.withUnsafeBytes { raw in
            Zlib.crc32(UnsafeRawBufferPointer(rebasing: raw[70_001...]), start: Zlib.crc32(UnsafeRawBufferPointer(rebasing: raw[..<70_001])))
        }
        #expect(split == whole)
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test("shuffle and unshuffle equal their definition for element sizes 1, 2, 4 and 8 and any count", arguments: [1, 2, 4, 8])
    func shuffle(_ size: Int) {
        for count in [0, 1, 15, 16, 17, 31, 64, 1000, 4099] {
            let raw = Self.randomBytes(count * size, seed: UInt64(count * 10 + size))
            let grouped = CNNZCodec.shuffle(raw, elementSize: size)
            var expected = [UInt8](repeating: 0, count: raw.count)
            for i in 0..<count { for j in 0..<size { expected[j * count + i] = raw[i * size + j] } }
            #expect(grouped == expected, "size \(size), count \(count)")
            #expect(CNNZCodec.unshuffle(grouped, elementSize: size) == raw, "size \(size), count \(count)")
        }
    }

    @Test("bfloat16 planes unshuffle straight into the float32 the bits stand for", arguments: [1, 16, 33, 1000])
    func bfloat16Planes(_ count: Int) {
        let raw = Self.randomBytes(count * 2, seed: UInt64(count))
        let grouped = CNNZCodec.shuffle(raw, elementSize: 2)
        var out = [Float](repeating: 0, count: count)
        grouped.withUnsafeBytes { planes in
            out.withUnsafeMutableBufferPointer { ChunkCoder().unshuffle(planes, count: count, dtype: .bfloat16, into: $0.baseAddress!) }
        }
        for i in 0..<count {
            #expect(out[i].bitPattern == UInt32(raw[2 * i + 1]) << 24 | UInt32(raw[2 * i]) << 16)
        }
    }
}

import ModelArchive
import Testing
@testable import CNNZFormat

@Suite("float16, bfloat16 and float64 conversions")
struct FloatConversionTests {
    /// float32 bit pattern -> expected binary16 bits (round to nearest, ties to even).
    static let float16Cases: [(UInt32, UInt16)] = [
        (0x0000_0000, 0x0000), (0x8000_0000, 0x8000), (0x3F80_0000, 0x3C00), (0xBF80_0000, 0xBC00),
        (0x4000_0000, 0x4000), (0x477F_E000, 0x7BFF), // 65504, largest finite
        (0x477F_EFFF, 0x7BFF), // just below the midpoint to infinity
        (0x477F_F000, 0x7C00), // 65520: ties to even -> infinity
        (0x7F80_0000, 0x7C00), (0xFF80_0000, 0xFC00), (0x4780_0000, 0x7C00), // 65536 overflows
        (0x3880_0000, 0x0400), // 2^-14, smallest normal
        (0x3380_0000, 0x0001), // 2^-24, smallest subnormal
        (0x3300_0000, 0x0000), // 2^-25: tie between 0 and 2^-24 -> even (0)
        (0x3300_0001, 0x0001), // just above the tie
        (0x33C0_0000, 0x0002), // 1.5 * 2^-24: tie -> even (2)
        (0x387F_E000, 0x0400), // 2^-14 - 2^-25: tie between largest subnormal and smallest normal -> 0x0400
        (0x3F80_1000, 0x3C00), // 1 + 2^-11: tie -> even (1.0)
        (0x3F80_3000, 0x3C02), // 1 + 3 * 2^-11: tie -> even (1 + 2^-9)
        (0x3F80_1001, 0x3C01), // above the tie
        (0x3EAA_AAAB, 0x3555), // 1/3
        (0x4049_0FDB, 0x4248), // pi
        (0x7FC0_0000, 0x7E00), // quiet NaN
        (0x7F80_0001, 0x7E00), // signalling NaN with low payload -> quiet
        (0xFFC0_2000, 0xFE01), // NaN payload's top bits kept
        (0x0000_0001, 0x0000), // float32 subnormal underflows
    ]

    @Test("float32 -> float16 known values", arguments: float16Cases)
    func toFloat16(_ c: (UInt32, UInt16)) {
        #expect(FloatConversion.float16Bits(Float(bitPattern: c.0)) == c.1)
    }

    @Test("float16 -> float32 is exact for all 65,536 patterns and round-trips")
    func allFloat16() {
        for h in 0...UInt16.max {
            let f = FloatConversion.float(float16Bits: h)
            let exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF
            if exponent == 31 && mantissa != 0 {
                #expect(f.isNaN)
                #expect(FloatConversion.float16Bits(f) == h | 0x200)
            } else {
                #expect(FloatConversion.float16Bits(f) == h)
                let reference: Float = exponent == 0 ? Float(mantissa) * 0x1p-24 : exponent == 31 ? .infinity : (1 + Float(mantissa) / 1024) * Float(sign: .plus, exponent: Int(exponent) - 15, significand: 1)
                #expect(abs(f) == reference, "\(h)")
                #expect(f.sign == (h & 0x8000 != 0 ? .minus : .plus))
            }
        }
    }

    static let bfloat16Cases: [(UInt32, UInt16)] = [
        (0x3F80_0000, 0x3F80), (0x3F80_8000, 0x3F80), // tie -> even
        (0x3F81_8000, 0x3F82), // tie -> even (up)
        (0x3F80_8001, 0x3F81), (0x8000_0000, 0x8000), (0x7F7F_FFFF, 0x7F80), // largest float rounds to infinity
        (0x7F7F_7FFF, 0x7F7F), (0x7F80_0000, 0x7F80), (0x7FC0_0000, 0x7FC0), (0x7F80_0001, 0x7FC0),
        (0xFF81_0000, 0xFFC1), (0x0000_0001, 0x0000), (0x0080_0000, 0x0080), (0x4049_0FDB, 0x4049),
    ]

    @Test("float32 -> bfloat16 known values", arguments: bfloat16Cases)
    func toBFloat16(_ c: (UInt32, UInt16)) {
        #expect(FloatConversion.bfloat16Bits(Float(bitPattern: c.0)) == c.1)
        #expect(FloatConversion.float(bfloat16Bits: c.1).bitPattern == UInt32(c.1) << 16)
    }

    @Test("float32 -> float64 -> float32 keeps every bit, NaN payloads included")
    func float64RoundTrip() {
        var x: UInt32 = 0x1234_5678
        var patterns: [UInt32] = [0x7F80_0001, 0xFF80_0001, 0x7FFF_FFFF, 0x7FC0_0000, 0x0000_0001, 0x8000_0000, 0x7F80_0000]
        for _ in 0..<20_000 {
            x = x &* 1_664_525 &+ 1_013_904_223
            patterns.append(x)
        }
        for p in patterns {
            let bits = FloatConversion.float64Bits(Float(bitPattern: p))
            #expect(FloatConversion.float(float64Bits: bits).bitPattern == p)
            if !Float(bitPattern: p).isNaN { #expect(Double(bitPattern: bits) == Double(Float(bitPattern: p))) }
        }
        // A float64 NaN whose payload lies below float32's keeps being a NaN.
        #expect(FloatConversion.float(float64Bits: 0x7FF0_0000_0000_0001).isNaN)
        #expect(FloatConversion.float(float64Bits: Double(0.1).bitPattern) == Float(0.1))
    }

    @Test("shuffle groups bytes by position and unshuffle inverts it")
    func shuffle() {
        let raw: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        #expect(CNNZCodec.shuffle(raw, elementSize: 4) == [1, 5, 2, 6, 3, 7, 4, 8])
        #expect(CNNZCodec.unshuffle(CNNZCodec.shuffle(raw, elementSize: 2), elementSize: 2) == raw)
    }
}

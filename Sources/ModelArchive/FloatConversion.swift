/// Bit-exact conversions between float32 and the other float dtypes (CNNZ: `Schemas/cnnz.md` section 4.3; safetensors F16/BF16 reading).
///
/// Written out rather than left to the hardware so that every platform produces the same bytes: narrowing
/// rounds to nearest, ties to even; a NaN keeps its sign and the top bits of its payload and becomes quiet;
/// widening is exact, and float32 -> float64 -> float32 gives back every bit pattern, NaN payloads included.
public enum FloatConversion {
    /// float32 -> IEEE binary16, round to nearest even; overflow gives infinity.
    public static func float16Bits(_ value: Float) -> UInt16 {
        let b = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (b >> 16) & 0x8000)
        let exponent = Int((b >> 23) & 0xFF)
        let mantissa = b & 0x7F_FFFF
        if exponent == 0xFF {
            if mantissa == 0 { return sign | 0x7C00 }
            return sign | 0x7C00 | 0x200 | UInt16(truncatingIfNeeded: mantissa >> 13)
        }
        let e = exponent - 127 + 15
        if e >= 31 { return sign | 0x7C00 }
        if e <= 0 {
            // Subnormal (or zero) in binary16: the value is mantissa24 * 2^(e - 25) = mantissa24 >> (14 - e) ulps.
            if e < -10 { return sign }
            let full = mantissa | 0x80_0000
            let shift = UInt32(14 - e)
            var half = full >> shift
            let remainder = full & ((1 << shift) - 1)
            let halfway: UInt32 = 1 << (shift - 1)
            if remainder > halfway || (remainder == halfway && half & 1 == 1) { half += 1 }
            return sign | UInt16(truncatingIfNeeded: half)
        }
        var half = (UInt32(e) << 10) | (mantissa >> 13)
        let remainder = mantissa & 0x1FFF
        if remainder > 0x1000 || (remainder == 0x1000 && half & 1 == 1) { half += 1 }
        if half >= 0x7C00 { return sign | 0x7C00 }
        return sign | UInt16(truncatingIfNeeded: half)
    }

    /// IEEE binary16 -> float32, exact.
    public static func float(float16Bits h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32((h >> 10) & 0x1F)
        var mantissa = UInt32(h & 0x3FF)
        if exponent == 0 {
            if mantissa == 0 { return Float(bitPattern: sign) }
            var e: UInt32 = 113
            while mantissa & 0x400 == 0 {
                mantissa <<= 1
                e -= 1
            }
            return Float(bitPattern: sign | (e << 23) | ((mantissa & 0x3FF) << 13))
        }
        if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    /// float32 -> bfloat16 (the top 16 bits), round to nearest even; overflow gives infinity.
    public static func bfloat16Bits(_ value: Float) -> UInt16 {
        let b = value.bitPattern
        if b & 0x7F80_0000 == 0x7F80_0000 && b & 0x7F_FFFF != 0 {
            return UInt16(truncatingIfNeeded: b >> 16) | 0x40
        }
        let rounded = b &+ 0x7FFF &+ ((b >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }

    /// bfloat16 -> float32, exact.
    public static func float(bfloat16Bits h: UInt16) -> Float {
        Float(bitPattern: UInt32(h) << 16)
    }

    /// float32 -> float64, exact; a NaN's payload moves to the top of the float64 payload unchanged.
    public static func float64Bits(_ value: Float) -> UInt64 {
        if value.isNaN {
            let b = UInt64(value.bitPattern)
            return ((b & 0x8000_0000) << 32) | 0x7FF0_0000_0000_0000 | ((b & 0x7F_FFFF) << 29)
        }
        return Double(value).bitPattern
    }

    /// float64 -> float32: exact for values that came from float32, otherwise round to nearest even. A NaN
    /// keeps the top 23 bits of its payload (made quiet if they are all zero).
    public static func float(float64Bits d: UInt64) -> Float {
        let value = Double(bitPattern: d)
        if value.isNaN {
            var payload = UInt32(truncatingIfNeeded: (d >> 29) & 0x7F_FFFF)
            if payload == 0 { payload = 0x40_0000 }
            return Float(bitPattern: UInt32(truncatingIfNeeded: (d >> 32) & 0x8000_0000) | 0x7F80_0000 | payload)
        }
        return Float(value)
    }
}

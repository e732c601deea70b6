import ModelArchive
/// The safetensors element types CNNKit decodes (`Schemas/safetensors-mapping.md` section 1.3).
///
/// Every value is widened to float32 on reading (integers above 2^24 round). Writing uses ``f32`` for every
/// tensor, so a round trip is bitwise. The other dtypes the format defines (`F8_*`, `F4`, `F6_*`, `C64`) are
/// refused by name.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    // One line per element size.
    case bool = "BOOL", u8 = "U8", i8 = "I8"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32"
    case f64 = "F64", i64 = "I64", u64 = "U64"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .bool, .u8, .i8: 1
        case .i16, .u16, .f16, .bf16: 2
        case .i32, .u32, .f32: 4
        case .f64, .i64, .u64: 8
        }
    }

    /// The rank the Python package sorts by when writing (its `Dtype` enum order; larger first).
    var writeRank: Int {
        switch self {
        case .bool: 0
        case .u8: 4
        case .i8: 5
        case .i16: 11
        case .u16: 12
        case .f16: 13
        case .bf16: 14
        case .i32: 15
        case .u32: 16
        case .f32: 17
        case .f64: 19
        case .i64: 20
        case .u64: 21
        }
    }

    /// Decodes `count` little-endian elements starting at `offset`; the caller has checked the range.
    func decode(_ bytes: [UInt8], offset: Int, count: Int) -> [Float] {
        var values = [Float](repeating: 0, count: count)
        #if _endian(little)
        if self == .f32 {
            // Same layout in memory and in the file: one copy, bit patterns (NaN payloads) kept.
            values.withUnsafeMutableBytes { out in
                bytes.withUnsafeBytes { raw in out.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + count * 4)])) }
            }
            return values
        }
        #endif
        bytes.withUnsafeBytes { raw in
            func word<T: FixedWidthInteger>(_ i: Int, _: T.Type) -> T {
                T(littleEndian: raw.loadUnaligned(fromByteOffset: offset + i * MemoryLayout<T>.size, as: T.self))
            }
            for i in 0..<count {
                switch self {
                case .bool: values[i] = raw[offset + i] == 0 ? 0 : 1
                case .u8: values[i] = Float(raw[offset + i])
                case .i8: values[i] = Float(Int8(bitPattern: raw[offset + i]))
                case .i16: values[i] = Float(word(i, Int16.self))
                case .u16: values[i] = Float(word(i, UInt16.self))
                case .f16: values[i] = FloatConversion.float(float16Bits: word(i, UInt16.self))
                case .bf16: values[i] = Float(bitPattern: UInt32(word(i, UInt16.self)) << 16)
                case .i32: values[i] = Float(word(i, Int32.self))
                case .u32: values[i] = Float(word(i, UInt32.self))
                case .f32: values[i] = Float(bitPattern: word(i, UInt32.self))
                case .f64: values[i] = Float(Double(bitPattern: word(i, UInt64.self)))
                case .i64: values[i] = Float(word(i, Int64.self))
                case .u64: values[i] = Float(word(i, UInt64.self))
                }
            }
        }
        return values
    }
}

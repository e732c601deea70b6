import ModelArchive
/// Encoding float32 values into a stored dtype's little-endian bytes and back (`Schemas/cnnz.md` section 4.3).
extension CNNZDType {
    /// Writes the stored bytes of `values` to `out` (room for `values.count * size` bytes).
    ///
    /// - Throws: ``CNNZError/notRepresentable(tensor:dtype:index:value:)`` when an integer dtype cannot hold a
    ///   value exactly; `firstIndex` is the index of `values[0]` in the tensor, for the message.
    func encode(_ values: UnsafeBufferPointer<Float>, to out: UnsafeMutableRawPointer, tensor: String, firstIndex: Int) throws {
        func put<T: FixedWidthInteger>(_ word: T, _ i: Int) {
            out.storeBytes(of: word.littleEndian, toByteOffset: i * MemoryLayout<T>.size, as: T.self)
        }
        switch self {
        case .float32:
            #if _endian(little)
            if let base = values.baseAddress { out.copyMemory(from: base, byteCount: values.count * 4) }
            #else
            for (i, v) in values.enumerated() { put(v.bitPattern, i) }
            #endif
        case .float16:
            for (i, v) in values.enumerated() { put(FloatConversion.float16Bits(v), i) }
        case .bfloat16:
            for (i, v) in values.enumerated() { put(FloatConversion.bfloat16Bits(v), i) }
        case .float64:
            for (i, v) in values.enumerated() { put(FloatConversion.float64Bits(v), i) }
        case .int32, .int64, .uint8:
            for (i, v) in values.enumerated() {
                guard let word = integerBits(v) else {
                    throw CNNZError.notRepresentable(tensor: tensor, dtype: self, index: firstIndex + i, value: v)
                }
                switch self {
                case .int32: put(UInt32(truncatingIfNeeded: word), i)
                case .int64: put(UInt64(bitPattern: word), i)
                default: put(UInt8(truncatingIfNeeded: word), i)
                }
            }
        }
    }

    /// The integer a float stands for in this integer dtype, or nil when it is not exactly representable.
    private func integerBits(_ v: Float) -> Int64? {
        guard v.isFinite, v.rounded(.towardZero) == v, !(v == 0 && v.sign == .minus) else { return nil }
        switch self {
        case .uint8: guard v >= 0, v <= 255 else { return nil }
        case .int32: guard v >= -0x1p31, v < 0x1p31 else { return nil }
        default: guard v >= -0x1p63, v < 0x1p63 else { return nil }
        }
        return Int64(v)
    }

    /// True when every value can be stored in this dtype and read back with the same bits.
    func holdsExactly(_ values: [Float]) -> Bool {
        switch self {
        case .float32, .float64: true
        case .float16: values.allSatisfy { $0.isNaN || FloatConversion.float(float16Bits: FloatConversion.float16Bits($0)).bitPattern == $0.bitPattern }
        case .bfloat16: values.allSatisfy { $0.isNaN || FloatConversion.float(bfloat16Bits: FloatConversion.bfloat16Bits($0)).bitPattern == $0.bitPattern }
        case .int32, .int64, .uint8: values.allSatisfy { integerBits($0) != nil }
        }
    }

    /// Decodes `count` elements from `bytes` (at least `count * size` long) into `out[0..<count]`.
    func decode(_ bytes: UnsafeRawBufferPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        func word<T: FixedWidthInteger>(_: T.Type, _ i: Int) -> T {
            T(littleEndian: bytes.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
        }
        switch self {
        case .float32:
            #if _endian(little)
            if count > 0, let source = bytes.baseAddress {
                UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: count * 4)
            }
            #else
            for i in 0..<count { out[i] = Float(bitPattern: word(UInt32.self, i)) }
            #endif
        case .float16: for i in 0..<count { out[i] = FloatConversion.float(float16Bits: word(UInt16.self, i)) }
        case .bfloat16: for i in 0..<count { out[i] = FloatConversion.float(bfloat16Bits: word(UInt16.self, i)) }
        case .float64: for i in 0..<count { out[i] = FloatConversion.float(float64Bits: word(UInt64.self, i)) }
        case .int32: for i in 0..<count { out[i] = Float(Int32(bitPattern: word(UInt32.self, i))) }
        case .int64: for i in 0..<count { out[i] = Float(Int64(bitPattern: word(UInt64.self, i))) }
        case .uint8: for i in 0..<count { out[i] = Float(bytes[i]) }
        }
    }
}

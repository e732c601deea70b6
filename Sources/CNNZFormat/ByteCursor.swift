/// A little-endian reader over a byte buffer that throws ``CNNZError/truncated(_:what:needed:available:)``
/// instead of reading past the end (`Schemas/cnnz.md` section 2: every integer is little-endian).
struct ByteCursor {
    let bytes: [UInt8]
    /// The file offset of `bytes[0]`, for error messages.
    let base: UInt64
    let file: String
    let what: String
    private(set) var position = 0

    init(_ bytes: [UInt8], base: UInt64, file: String, what: String) {
        self.bytes = bytes
        self.base = base
        self.file = file
        self.what = what
    }

    /// Reads `count` bytes.
    mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - position else {
            throw CNNZError.truncated(CNNZLocation(file: file, offset: base + UInt64(position)), what: what,
                                      needed: UInt64(max(count, 0)), available: UInt64(bytes.count - position))
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    /// Reads an unsigned little-endian integer.
    mutating func read<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) throws -> T {
        let slice = try take(MemoryLayout<T>.size)
        var value: T = 0
        for (i, byte) in slice.enumerated() { value |= T(byte) << (8 * i) }
        return value
    }
}

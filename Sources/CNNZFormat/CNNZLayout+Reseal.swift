/// Checksum repair for fuzzing and tests: lets mutated files reach the checks behind the CRCs.
extension CNNZLayout {
    /// Recomputes the preamble, header and footer CRC-32s of `bytes` where the structure allows (the footer's
    /// header offset and length must lie inside the file for the header CRC to be redone). Chunk CRCs are left
    /// alone; read with ``CNNZReadOptions/verifyChecksums`` off to go past them.
    @_spi(Fuzzing)
    public static func resealed(_ bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        guard out.count >= preambleSize + footerSize else { return out }
        func put(_ value: UInt32, at i: Int) {
            for k in 0..<4 { out[i + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(k))) }
        }
        func word64(at i: Int) -> UInt64 {
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(out[i + $1]) << (8 * UInt64($1)) }
        }
        put(CRC32.checksum(Array(out[0..<12])), at: 12)
        let f = out.count - footerSize
        let offset = word64(at: f), length = word64(at: f + 8)
        if let start = Int(exactly: offset), let n = Int(exactly: length), start <= f, n <= f - start {
            put(CRC32.checksum(Array(out[start..<(start + n)])), at: f + 16)
        }
        put(CRC32.checksum(Array(out[f..<(f + 28)])), at: f + 28)
        return out
    }
}

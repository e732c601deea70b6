import ZlibCoding
import ZstdCoding

/// Encoding and decoding one chunk (`Schemas/cnnz.md` section 5).
extension CNNZCodec {
    /// The zlib strategy the writer uses: `Z_DEFAULT_STRATEGY` for `deflate`, `Z_RLE` for `shuffle-deflate`
    /// (section 5.3). The strategy does not change the format: any zlib stream decodes.
    var zlibStrategy: Zlib.Strategy {
        self == .shuffleDeflate ? .runLength : .standard
    }

    /// Encodes one chunk of raw stored-dtype bytes.
    ///
    /// - Parameters:
    ///   - raw: the chunk's raw bytes, a whole number of elements.
    ///   - elementSize: the dtype's size, for the shuffle.
    ///   - level: the zlib level 0-9, or the zstd level 1-22 for `shuffle-zstd`.
    /// - Throws: ``CNNZError/invalidWrite(reason:)`` when zlib or libzstd fails (which they do only for a bad level).
    func encode(_ raw: [UInt8], elementSize: Int, level: Int) throws -> [UInt8] {
        switch self {
        case .raw:
            return raw
        case .deflate:
            return try Self.deflate(raw, level: level, strategy: zlibStrategy)
        case .shuffleDeflate:
            return try Self.deflate(Self.shuffle(raw, elementSize: elementSize), level: level, strategy: zlibStrategy)
        case .shuffleZstd:
            let result = Self.shuffle(raw, elementSize: elementSize).withUnsafeBytes { bytes in
                Result { () throws(ZstdFailure) in try Zstd.compress(bytes, level: level) }
            }
            do {
                return try result.get()
            } catch {
                throw CNNZError.invalidWrite(reason: error.reason)
            }
        }
    }

    /// True for the codecs that group bytes by position before compressing (section 5.3).
    var isShuffled: Bool { self == .shuffleDeflate || self == .shuffleZstd }

    /// Decodes one stored chunk into exactly `rawCount` bytes.
    ///
    /// - Throws: a reason string when the stream is damaged or its output is not exactly `rawCount` bytes.
    func decode(_ stored: UnsafeRawBufferPointer, rawCount: Int, elementSize: Int) throws(ChunkDecodeFailure) -> [UInt8] {
        let bytes = try decodeGrouped(stored, rawCount: rawCount)
        return isShuffled ? Self.unshuffle(bytes, elementSize: elementSize) : bytes
    }

    /// Decompresses one stored chunk into exactly `rawCount` bytes, still grouped by byte position for the
    /// shuffled codecs (``unshuffle(_:elementSize:into:)`` finishes them).
    func decodeGrouped(_ stored: UnsafeRawBufferPointer, rawCount: Int) throws(ChunkDecodeFailure) -> [UInt8] {
        switch self {
        case .raw:
            guard stored.count == rawCount else {
                throw ChunkDecodeFailure(reason: "raw chunk holds \(stored.count) bytes, expected \(rawCount)")
            }
            return Array(stored)
        case .deflate, .shuffleDeflate:
            return try Self.inflate(stored, rawCount: rawCount)
        case .shuffleZstd:
            do {
                return try Zstd.decompress(stored, rawCount: rawCount)
            } catch {
                throw ChunkDecodeFailure(reason: error.reason)
            }
        }
    }

    /// Groups byte `j` of every element together: `out[j * n + i] = raw[i * size + j]` (section 5.3).
    static func shuffle(_ raw: [UInt8], elementSize size: Int) -> [UInt8] {
        guard size > 1 else { return raw }
        let n = raw.count / size
        var out = [UInt8](repeating: 0, count: raw.count)
        raw.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                if size == 4, let s = src.baseAddress, let d = dst.baseAddress {
                    // float32 and int32: one 32-bit load per element, its four bytes to the four planes.
                    let words = UnsafeRawPointer(s)
                    for i in 0..<n {
                        let word = UInt32(littleEndian: words.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
                        d[i] = UInt8(truncatingIfNeeded: word)
                        d[n + i] = UInt8(truncatingIfNeeded: word >> 8)
                        d[2 * n + i] = UInt8(truncatingIfNeeded: word >> 16)
                        d[3 * n + i] = UInt8(truncatingIfNeeded: word >> 24)
                    }
                    return
                }
                for j in 0..<size {
                    var s = j
                    for i in 0..<n {
                        dst[j * n + i] = src[s]
                        s += size
                    }
                }
            }
        }
        return out
    }

    /// The inverse of ``shuffle(_:elementSize:)``.
    static func unshuffle(_ grouped: [UInt8], elementSize size: Int) -> [UInt8] {
        guard size > 1 else { return grouped }
        return [UInt8](unsafeUninitializedCapacity: grouped.count) { out, count in
            grouped.withUnsafeBytes { unshuffle($0, elementSize: size, into: UnsafeMutableRawPointer(out.baseAddress!)) }
            count = grouped.count
        }
    }

    /// The inverse of ``shuffle(_:elementSize:)`` into `out`, which has room for `grouped.count` bytes (the reader
    /// unshuffles float32 chunks straight into the tensor).
    static func unshuffle(_ grouped: UnsafeRawBufferPointer, elementSize size: Int, into out: UnsafeMutableRawPointer) {
        guard let s = grouped.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        let n = grouped.count / size
        if size == 4 {
            // float32 and int32: assemble each element from its four planes in one 32-bit store.
            for i in 0..<n {
                let word = UInt32(s[i]) | UInt32(s[n + i]) << 8 | UInt32(s[2 * n + i]) << 16 | UInt32(s[3 * n + i]) << 24
                out.storeBytes(of: word.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
            }
            return
        }
        let d = out.assumingMemoryBound(to: UInt8.self)
        for j in 0..<size {
            var k = j
            for i in 0..<n {
                d[k] = s[j * n + i]
                k += size
            }
        }
    }

    static func deflate(_ input: [UInt8], level: Int, strategy: Zlib.Strategy) throws -> [UInt8] {
        do {
            return try Zlib.deflate(input, level: level, strategy: strategy)
        } catch {
            throw CNNZError.invalidWrite(reason: error.reason)
        }
    }

    /// Inflates one zlib stream that must decode to exactly `rawCount` bytes and end exactly at the end of
    /// `stored`.
    static func inflate(_ stored: UnsafeRawBufferPointer, rawCount: Int) throws(ChunkDecodeFailure) -> [UInt8] {
        do {
            return try Zlib.inflate(stored, rawCount: rawCount)
        } catch {
            throw ChunkDecodeFailure(reason: error.reason)
        }
    }
}

/// Why a chunk did not decode; the reader adds the file, offset, tensor and chunk.
struct ChunkDecodeFailure: Error {
    var reason: String
}

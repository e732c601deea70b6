import CNNKitZlib

/// Encoding and decoding one chunk (`Schemas/cnnz.md` section 5).
extension CNNZCodec {
    /// The zlib strategy the writer uses: `Z_DEFAULT_STRATEGY` for `deflate`, `Z_RLE` for `shuffle-deflate`
    /// (section 5.3). The strategy does not change the format: any zlib stream decodes.
    var zlibStrategy: Int32 {
        self == .shuffleDeflate ? Z_RLE : Z_DEFAULT_STRATEGY
    }

    /// Encodes one chunk of raw stored-dtype bytes.
    ///
    /// - Parameters:
    ///   - raw: the chunk's raw bytes, a whole number of elements.
    ///   - elementSize: the dtype's size, for the shuffle.
    ///   - level: the zlib level 0-9.
    /// - Throws: ``CNNZError/invalidWrite(reason:)`` when zlib fails (which it does only for a bad level).
    func encode(_ raw: [UInt8], elementSize: Int, level: Int) throws -> [UInt8] {
        switch self {
        case .raw:
            return raw
        case .deflate:
            return try Self.deflate(raw, level: level, strategy: zlibStrategy)
        case .shuffleDeflate:
            return try Self.deflate(Self.shuffle(raw, elementSize: elementSize), level: level, strategy: zlibStrategy)
        }
    }

    /// Decodes one stored chunk into exactly `rawCount` bytes.
    ///
    /// - Throws: a reason string when the stream is damaged or its output is not exactly `rawCount` bytes.
    func decode(_ stored: UnsafeRawBufferPointer, rawCount: Int, elementSize: Int) throws(ChunkDecodeFailure) -> [UInt8] {
        switch self {
        case .raw:
            guard stored.count == rawCount else {
                throw ChunkDecodeFailure(reason: "raw chunk holds \(stored.count) bytes, expected \(rawCount)")
            }
            return Array(stored)
        case .deflate:
            return try Self.inflate(stored, rawCount: rawCount)
        case .shuffleDeflate:
            return Self.unshuffle(try Self.inflate(stored, rawCount: rawCount), elementSize: elementSize)
        }
    }

    /// Groups byte `j` of every element together: `out[j * n + i] = raw[i * size + j]` (section 5.2).
    static func shuffle(_ raw: [UInt8], elementSize size: Int) -> [UInt8] {
        guard size > 1 else { return raw }
        let n = raw.count / size
        var out = [UInt8](repeating: 0, count: raw.count)
        raw.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
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
        let n = grouped.count / size
        var out = [UInt8](repeating: 0, count: grouped.count)
        grouped.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                if size == 4, let s = src.baseAddress, let d = dst.baseAddress {
                    // float32 and int32: assemble each element from its four planes in one 32-bit store.
                    let raw = UnsafeMutableRawPointer(d)
                    for i in 0..<n {
                        let word = UInt32(s[i]) | UInt32(s[n + i]) << 8 | UInt32(s[2 * n + i]) << 16 | UInt32(s[3 * n + i]) << 24
                        raw.storeBytes(of: word.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                    }
                    return
                }
                for j in 0..<size {
                    var d = j
                    for i in 0..<n {
                        dst[d] = src[j * n + i]
                        d += size
                    }
                }
            }
        }
        return out
    }

    /// One zlib stream (RFC 1950) of `input`, through `deflateInit2`/`deflate(Z_FINISH)`.
    static func deflate(_ input: [UInt8], level: Int, strategy: Int32) throws -> [UInt8] {
        var stream = z_stream()
        guard cnnkit_deflateInit2(&stream, Int32(level), Z_DEFLATED, MAX_WBITS, 8, strategy) == Z_OK else {
            throw CNNZError.invalidWrite(reason: "zlib refused level \(level)")
        }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(input.count)))
        var output = [UInt8](repeating: 0, count: bound)
        let status: Int32 = input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                stream.next_in = UnsafeMutablePointer(mutating: src.baseAddress)
                stream.avail_in = uInt(src.count)
                stream.next_out = dst.baseAddress
                stream.avail_out = uInt(dst.count)
                return CNNKitZlib.deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw CNNZError.invalidWrite(reason: "zlib deflate failed with status \(status)") }
        output.removeLast(Int(stream.avail_out))
        return output
    }

    /// Inflates one zlib stream that must decode to exactly `rawCount` bytes and end exactly at the end of
    /// `stored`.
    static func inflate(_ stored: UnsafeRawBufferPointer, rawCount: Int) throws(ChunkDecodeFailure) -> [UInt8] {
        var stream = z_stream()
        guard cnnkit_inflateInit2(&stream, MAX_WBITS) == Z_OK else { throw ChunkDecodeFailure(reason: "zlib could not start inflating") }
        defer { inflateEnd(&stream) }
        // One spare byte tells "exactly rawCount" from "more than rawCount".
        var output = [UInt8](repeating: 0, count: rawCount + 1)
        let status: Int32 = output.withUnsafeMutableBufferPointer { dst in
            stream.next_in = UnsafeMutablePointer(mutating: stored.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(stored.count)
            stream.next_out = dst.baseAddress
            stream.avail_out = uInt(dst.count)
            return CNNKitZlib.inflate(&stream, Z_FINISH)
        }
        let produced = output.count - Int(stream.avail_out)
        let consumed = stored.count - Int(stream.avail_in)
        switch status {
        case Z_STREAM_END:
            guard produced == rawCount else {
                throw ChunkDecodeFailure(reason: "chunk decompresses to \(produced) bytes, expected \(rawCount)")
            }
            guard consumed == stored.count else {
                throw ChunkDecodeFailure(reason: "\(stored.count - consumed) bytes follow the end of the chunk's zlib stream")
            }
            output.removeLast()
            return output
        case Z_BUF_ERROR where stream.avail_out == 0, Z_OK where stream.avail_out == 0:
            throw ChunkDecodeFailure(reason: "chunk decompresses to more than \(rawCount) bytes")
        case Z_BUF_ERROR, Z_OK:
            throw ChunkDecodeFailure(reason: "chunk's zlib stream is truncated after \(produced) of \(rawCount) bytes")
        default:
            let message = stream.msg.map { String(cString: $0) } ?? "status \(status)"
            throw ChunkDecodeFailure(reason: "chunk's zlib stream is damaged at stored byte \(consumed): \(message)")
        }
    }
}

/// Why a chunk did not decode; the reader adds the file, offset, tensor and chunk.
struct ChunkDecodeFailure: Error {
    var reason: String
}

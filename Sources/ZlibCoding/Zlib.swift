import CNNKitByteKernels
import CNNKitZlib

/// Why zlib could not encode or decode: a reason phrased for an error message, and for decoding the byte
/// offset in the compressed input where it went wrong (when known). Callers wrap it in their module's error
/// with the file and place.
public struct ZlibFailure: Error, Sendable, Equatable {
    public var reason: String
    public var offset: Int?

    public init(reason: String, offset: Int? = nil) {
        self.reason = reason
        self.offset = offset
    }
}

/// The one wrapper around zlib: deflate and inflate of zlib streams (RFC 1950), gunzip (RFC 1952) and CRC-32.
public enum Zlib {
    /// The strategies CNNKit uses.
    public enum Strategy: Sendable {
        /// `Z_DEFAULT_STRATEGY`.
        case standard
        /// `Z_RLE`: run-length matches only, fast and good on byte-shuffled floats.
        case runLength

        var value: Int32 { self == .runLength ? Z_RLE : Z_DEFAULT_STRATEGY }
    }

    /// One zlib stream of `input`, through `deflateInit2` and `deflate(Z_FINISH)`.
    ///
    /// - Throws: ``ZlibFailure`` when zlib refuses the level or fails.
    public static func deflate(_ input: [UInt8], level: Int, strategy: Strategy) throws(ZlibFailure) -> [UInt8] {
        var stream = z_stream()
        guard cnnkit_deflateInit2(&stream, Int32(level), Z_DEFLATED, MAX_WBITS, 8, strategy.value) == Z_OK else {
            throw ZlibFailure(reason: "zlib refused level \(level)")
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
        guard status == Z_STREAM_END else { throw ZlibFailure(reason: "zlib deflate failed with status \(status)") }
        output.removeLast(Int(stream.avail_out))
        return output
    }

    /// Inflates one zlib stream that must decode to exactly `rawCount` bytes and end exactly at the end of
    /// `stored`.
    ///
    /// - Throws: ``ZlibFailure`` saying whether the stream is damaged (and where), truncated, too long, or
    ///   followed by extra bytes.
    public static func inflate(_ stored: UnsafeRawBufferPointer, rawCount: Int) throws(ZlibFailure) -> [UInt8] {
        var stream = z_stream()
        guard cnnkit_inflateInit2(&stream, MAX_WBITS) == Z_OK else { throw ZlibFailure(reason: "zlib could not start inflating") }
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
                throw ZlibFailure(reason: "chunk decompresses to \(produced) bytes, expected \(rawCount)")
            }
            guard consumed == stored.count else {
                throw ZlibFailure(reason: "\(stored.count - consumed) bytes follow the end of the chunk's zlib stream")
            }
            output.removeLast()
            return output
        case Z_BUF_ERROR where stream.avail_out == 0, Z_OK where stream.avail_out == 0:
            throw ZlibFailure(reason: "chunk decompresses to more than \(rawCount) bytes")
        case Z_BUF_ERROR, Z_OK:
            throw ZlibFailure(reason: "chunk's zlib stream is truncated after \(produced) of \(rawCount) bytes")
        default:
            let message = stream.msg.map { String(cString: $0) } ?? "status \(status)"
            throw ZlibFailure(reason: "chunk's zlib stream is damaged at stored byte \(consumed): \(message)", offset: consumed)
        }
    }

    /// True when the bytes start with the gzip magic `1f 8b`.
    public static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// Inflates a whole gzip member (zlib `inflate` with gzip header detection).
    ///
    /// - Parameter limit: the most bytes the output may have; a larger stream is an error, not an allocation.
    /// - Throws: ``ZlibFailure`` with the input offset for a damaged, truncated or oversized stream.
    public static func gunzip(_ bytes: [UInt8], limit: Int) throws(ZlibFailure) -> [UInt8] {
        var stream = z_stream()
        guard cnnkit_inflateInit2(&stream, 16 + MAX_WBITS) == Z_OK else {
            throw ZlibFailure(reason: "zlib could not start inflating", offset: 0)
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        output.reserveCapacity(min(limit, max(bytes.count * 4, 1 << 16)))
        var chunk = [UInt8](repeating: 0, count: 1 << 18)
        var status: Int32 = Z_OK
        var failure: ZlibFailure?
        bytes.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = uInt(input.count)
            repeat {
                let produced: Int = chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    status = CNNKitZlib.inflate(&stream, Z_NO_FLUSH)
                    return out.count - Int(stream.avail_out)
                }
                guard status == Z_OK || status == Z_STREAM_END else {
                    let reason = status == Z_BUF_ERROR ? "gzip stream is truncated" : "gzip stream is damaged (zlib status \(status))"
                    failure = ZlibFailure(reason: reason, offset: input.count - Int(stream.avail_in))
                    return
                }
                guard output.count + produced <= limit else {
                    failure = ZlibFailure(reason: "decompresses to more than \(limit) bytes", offset: input.count - Int(stream.avail_in))
                    return
                }
                output.append(contentsOf: chunk[0..<produced])
                if status == Z_OK && produced == 0 && stream.avail_in == 0 {
                    failure = ZlibFailure(reason: "gzip stream is truncated", offset: input.count)
                    return
                }
            } while status != Z_STREAM_END
        }
        if let failure { throw failure }
        return output
    }

    /// The CRC-32 (ISO-HDLC, as zip and PNG use it) of `bytes`, continuing from `start`.
    ///
    /// Bytes from 64 on go through CNNKit's carry-less-multiplication folding (`CNNKitByteKernels`, PCLMULQDQ,
    /// about 3x zlib 1.2's table-driven `crc32` here) when the CPU has it; the rest through zlib.
    public static func crc32(_ bytes: UnsafeRawBufferPointer, start: UInt32 = 0) -> UInt32 {
        guard var base = bytes.baseAddress?.assumingMemoryBound(to: Bytef.self) else { return start }
        var folded = start
        let done = cnnkit_crc32_fold(&folded, base, bytes.count)
        var crc = uLong(folded)
        base += done
        var remaining = bytes.count - done
        while remaining > 0 {
            let n = min(remaining, 1 << 30)
            crc = CNNKitZlib.crc32(crc, base, uInt(n))
            base += n
            remaining -= n
        }
        return UInt32(truncatingIfNeeded: crc)
    }
}

import CNNKitZlib

/// Decompression of gzip and zlib streams through zlib.
public enum Gzip {
    /// True when the bytes start with the gzip magic `1f 8b`.
    public static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// Inflates a whole gzip member (zlib `inflate` with gzip header detection).
    ///
    /// - Parameters:
    ///   - bytes: the compressed bytes.
    ///   - limit: the most bytes the output may have; a larger stream is an error rather than an allocation.
    ///   - path: the file, for error messages.
    /// - Throws: ``ConvNetError/datasetCorrupt(path:offset:reason:)`` for a damaged or truncated stream.
    public static func decompress(_ bytes: [UInt8], limit: Int, path: String) throws -> [UInt8] {
        var stream = z_stream()
        guard cnnkit_inflateInit2(&stream, 16 + MAX_WBITS) == Z_OK else {
            throw DatasetError.datasetCorrupt(path: path, offset: 0, reason: "zlib could not start inflating")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        output.reserveCapacity(min(limit, max(bytes.count * 4, 1 << 16)))
        var chunk = [UInt8](repeating: 0, count: 1 << 18)
        var status: Int32 = Z_OK
        try bytes.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = uInt(input.count)
            repeat {
                let produced: Int = chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return out.count - Int(stream.avail_out)
                }
                guard status == Z_OK || status == Z_STREAM_END else {
                    let offset = input.count - Int(stream.avail_in)
                    let reason = status == Z_BUF_ERROR ? "gzip stream is truncated" : "gzip stream is damaged (zlib status \(status))"
                    throw DatasetError.datasetCorrupt(path: path, offset: offset, reason: reason)
                }
                guard output.count + produced <= limit else {
                    throw DatasetError.datasetCorrupt(path: path, offset: input.count - Int(stream.avail_in),
                                                      reason: "decompresses to more than \(limit) bytes")
                }
                output.append(contentsOf: chunk[0..<produced])
                if status == Z_OK && produced == 0 && stream.avail_in == 0 {
                    throw DatasetError.datasetCorrupt(path: path, offset: input.count, reason: "gzip stream is truncated")
                }
            } while status != Z_STREAM_END
        }
        return output
    }
}

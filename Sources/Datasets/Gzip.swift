import ZlibCoding

/// Decompression of gzip files for the data sets, through ``Zlib/gunzip(_:limit:)``.
public enum Gzip {
    /// True when the bytes start with the gzip magic `1f 8b`.
    public static func isGzip(_ bytes: [UInt8]) -> Bool {
        Zlib.isGzip(bytes)
    }

    /// Inflates a whole gzip member.
    ///
    /// - Parameters:
    ///   - bytes: the compressed bytes.
    ///   - limit: the most bytes the output may have; a larger stream is an error rather than an allocation.
    ///   - path: the file, for error messages.
    /// - Throws: ``DatasetError/datasetCorrupt(path:offset:reason:)`` for a damaged or truncated stream.
    public static func decompress(_ bytes: [UInt8], limit: Int, path: String) throws -> [UInt8] {
        do {
            return try Zlib.gunzip(bytes, limit: limit)
        } catch {
            throw DatasetError.datasetCorrupt(path: path, offset: error.offset ?? 0, reason: error.reason)
        }
    }
}

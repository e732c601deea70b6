import CNNKitZstd

/// Why libzstd could not encode or decode: a reason phrased for an error message. Callers wrap it in their
/// module's error with the file and place.
public struct ZstdFailure: Error, Sendable, Equatable {
    public var reason: String

    public init(reason: String) {
        self.reason = reason
    }
}

/// The one wrapper around libzstd: single-frame compression and exact, bounded decompression.
public enum Zstd {
    /// The levels ``compress(_:level:)`` accepts (libzstd's regular levels; no negative "fast" levels).
    public static let levels: ClosedRange<Int> = 1...Int(ZSTD_maxCLevel())

    /// The most a zstd frame can expand: a block decodes to at most `ZSTD_BLOCKSIZE_MAX` (128 KiB) bytes and
    /// takes at least 4 stored bytes (a 3-byte block header and one RLE byte), so raw <= 32768 * stored.
    public static let maxExpansionRatio: UInt64 = cnnkit_zstd_blocksize_max() / 4

    /// The version of the libzstd in use, such as `1.5.4`.
    public static var version: String { String(cString: ZSTD_versionString()) }

    /// One zstd frame of `input`, with its content size in the frame header and no checksum
    /// (`ZSTD_compressCCtx`, so the frame is the same for the same libzstd, level and input).
    ///
    /// - Throws: ``ZstdFailure`` when the level is outside ``levels`` or libzstd fails.
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int) throws(ZstdFailure) -> [UInt8] {
        guard levels.contains(level) else { throw ZstdFailure(reason: "zstd level must be \(levels.lowerBound)-\(levels.upperBound), found \(level)") }
        guard let context = ZSTD_createCCtx() else { throw ZstdFailure(reason: "libzstd could not allocate a compression context") }
        defer { ZSTD_freeCCtx(context) }
        let bound = ZSTD_compressBound(input.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { dst in
            ZSTD_compressCCtx(context, dst.baseAddress, dst.count, input.baseAddress, input.count, Int32(level))
        }
        guard ZSTD_isError(written) == 0 else { throw ZstdFailure(reason: "zstd compression failed: \(errorName(written))") }
        output.removeLast(bound - written)
        return output
    }

    /// Decompresses one zstd frame that must state its content size as exactly `rawCount` and fill all of
    /// `stored`. The content size is checked before anything is allocated, so the output never exceeds `rawCount`.
    ///
    /// - Throws: ``ZstdFailure`` saying whether the frame is not zstd, states another size, is followed by extra
    ///   bytes, is truncated or is damaged.
    public static func decompress(_ stored: UnsafeRawBufferPointer, rawCount: Int) throws(ZstdFailure) -> [UInt8] {
        let declared = ZSTD_getFrameContentSize(stored.baseAddress, stored.count)
        if declared == cnnkit_zstd_contentsize_error() {
            throw ZstdFailure(reason: "chunk is not a zstd frame (bad magic number or frame header)")
        }
        if declared == cnnkit_zstd_contentsize_unknown() {
            throw ZstdFailure(reason: "chunk's zstd frame header does not state its content size (or is truncated)")
        }
        guard declared == UInt64(rawCount) else {
            throw ZstdFailure(reason: "chunk's zstd frame declares \(declared) bytes, expected \(rawCount)")
        }
        let frameSize = ZSTD_findFrameCompressedSize(stored.baseAddress, stored.count)
        guard ZSTD_isError(frameSize) == 0 else {
            throw ZstdFailure(reason: "chunk's zstd frame is damaged or truncated: \(errorName(frameSize))")
        }
        guard frameSize == stored.count else {
            throw ZstdFailure(reason: "\(stored.count - frameSize) bytes follow the end of the chunk's zstd frame")
        }
        guard let context = ZSTD_createDCtx() else { throw ZstdFailure(reason: "libzstd could not allocate a decompression context") }
        defer { ZSTD_freeDCtx(context) }
        var output = [UInt8](repeating: 0, count: rawCount)
        let produced = output.withUnsafeMutableBytes { dst in
            ZSTD_decompressDCtx(context, dst.baseAddress, dst.count, stored.baseAddress, stored.count)
        }
        guard ZSTD_isError(produced) == 0 else { throw ZstdFailure(reason: "chunk's zstd frame is damaged: \(errorName(produced))") }
        guard produced == rawCount else {
            throw ZstdFailure(reason: "chunk decompresses to \(produced) bytes, expected \(rawCount)")
        }
        return output
    }

    private static func errorName(_ code: Int) -> String {
        String(cString: ZSTD_getErrorName(code))
    }
}

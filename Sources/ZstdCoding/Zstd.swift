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

    /// `ZSTD_c_hashLog` at level 1 (libzstd's smallest, `ZSTD_HASHLOG_MIN`).
    public static let levelOneHashLog: Int32 = 6
    /// `ZSTD_c_minMatch` at level 1 (libzstd's largest, `ZSTD_MINMATCH_MAX`).
    public static let levelOneMinMatch: Int32 = 7

    /// The most a zstd frame can expand: a block decodes to at most `ZSTD_BLOCKSIZE_MAX` (128 KiB) bytes and
    /// takes at least 4 stored bytes (a 3-byte block header and one RLE byte), so raw <= 32768 * stored.
    public static let maxExpansionRatio: UInt64 = cnnkit_zstd_blocksize_max() / 4

    /// The version of the libzstd in use, such as `1.5.4`.
    public static var version: String { String(cString: ZSTD_versionString()) }

    /// One zstd frame of `input`, with its content size in the frame header and no checksum (`ZSTD_compress2`,
    /// so the frame is the same for the same libzstd, level and input).
    ///
    /// Level 1, the default of CNNZ's `shuffle-zstd`, is libzstd's level 1 with two parameters changed for
    /// byte-shuffled weights, whose planes are either near-random (mantissas: stored as raw or Huffman-coded
    /// literals) or skewed bytes with no long repeats (exponents: Huffman-coded literals): the smallest match
    /// hash table (``levelOneHashLog``) and the longest minimum match (``levelOneMinMatch``). Matching finds
    /// little in such data, and the short matches it does find cost more than the literals they replace: on
    /// N(0, 0.02) weights in 1 MiB chunks this gives 0.835x instead of 0.842x for float32 and 0.670x instead of
    /// 0.684x for bfloat16, and encodes about 4x faster (`Schemas/cnnz.md` section 5.4). Runs of one byte still
    /// become RLE blocks. Readers decode any valid frame, so the choice is the writer's.
    ///
    /// - Throws: ``ZstdFailure`` when the level is outside ``levels`` or libzstd fails.
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int) throws(ZstdFailure) -> [UInt8] {
        let encoder = try ZstdEncoder()
        var output = [UInt8](repeating: 0, count: compressBound(input.count))
        let written = output.withUnsafeMutableBytes { dst in Result { () throws(ZstdFailure) in try encoder.compress(input, into: dst, level: level) } }
        output.removeLast(output.count - (try written.get()))
        return output
    }

    /// The most bytes one frame of `count` input bytes can take (`ZSTD_compressBound`).
    public static func compressBound(_ count: Int) -> Int { ZSTD_compressBound(count) }

    /// Decompresses one zstd frame that must state its content size as exactly `rawCount` and fill all of
    /// `stored`. The content size is checked before anything is allocated, so the output never exceeds `rawCount`.
    ///
    /// - Throws: ``ZstdFailure`` saying whether the frame is not zstd, states another size, is followed by extra
    ///   bytes, is truncated or is damaged.
    public static func decompress(_ stored: UnsafeRawBufferPointer, rawCount: Int) throws(ZstdFailure) -> [UInt8] {
        try checkFrame(stored, rawCount: rawCount)
        let decoder = try ZstdDecoder()
        var output = [UInt8](repeating: 0, count: rawCount)
        let done = output.withUnsafeMutableBytes { dst in Result { () throws(ZstdFailure) in try decoder.decompressChecked(stored, into: dst) } }
        try done.get()
        return output
    }

    /// Checks that `stored` is exactly one zstd frame stating `rawCount` bytes of content.
    static func checkFrame(_ stored: UnsafeRawBufferPointer, rawCount: Int) throws(ZstdFailure) {
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
    }

    static func errorName(_ code: Int) -> String {
        String(cString: ZSTD_getErrorName(code))
    }
}

/// A reusable compression context (`ZSTD_CCtx`): one per thread, used for one frame at a time. Reusing it
/// saves the context's allocation and table setup per frame; the frames are the same as a fresh context's.
public final class ZstdEncoder {
    private let context: OpaquePointer

    /// - Throws: ``ZstdFailure`` when libzstd cannot allocate the context.
    public init() throws(ZstdFailure) {
        guard let context = ZSTD_createCCtx() else { throw ZstdFailure(reason: "libzstd could not allocate a compression context") }
        self.context = context
    }

    deinit { ZSTD_freeCCtx(context) }

    /// Writes one frame of `input` into `output` (at least ``Zstd/compressBound(_:)`` bytes) and returns its size;
    /// the frame is that of ``Zstd/compress(_:level:)``: libzstd's parameters for `level`, except that level 1
    /// searches matches with the smallest hash table (`ZSTD_c_hashLog` ``Zstd/levelOneHashLog``) and takes only
    /// matches of at least ``Zstd/levelOneMinMatch`` bytes (see ``Zstd/compress(_:level:)``).
    ///
    /// - Throws: ``ZstdFailure`` when the level is outside ``Zstd/levels`` or libzstd fails.
    public func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, level: Int) throws(ZstdFailure) -> Int {
        guard Zstd.levels.contains(level) else {
            throw ZstdFailure(reason: "zstd level must be \(Zstd.levels.lowerBound)-\(Zstd.levels.upperBound), found \(level)")
        }
        try check(ZSTD_CCtx_reset(context, ZSTD_reset_session_and_parameters))
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(level)))
        if level == 1 {
            try check(ZSTD_CCtx_setParameter(context, ZSTD_c_hashLog, Zstd.levelOneHashLog))
            try check(ZSTD_CCtx_setParameter(context, ZSTD_c_minMatch, Zstd.levelOneMinMatch))
        }
        let written = ZSTD_compress2(context, output.baseAddress, output.count, input.baseAddress, input.count)
        try check(written)
        return written
    }

    private func check(_ code: Int) throws(ZstdFailure) {
        guard ZSTD_isError(code) == 0 else { throw ZstdFailure(reason: "zstd compression failed: \(Zstd.errorName(code))") }
    }
}

/// A reusable decompression context (`ZSTD_DCtx`): one per thread, used for one frame at a time.
public final class ZstdDecoder {
    private let context: OpaquePointer

    /// - Throws: ``ZstdFailure`` when libzstd cannot allocate the context.
    public init() throws(ZstdFailure) {
        guard let context = ZSTD_createDCtx() else { throw ZstdFailure(reason: "libzstd could not allocate a decompression context") }
        self.context = context
    }

    deinit { ZSTD_freeDCtx(context) }

    /// Decompresses one frame that must state its content size as exactly `output.count` and fill all of
    /// `stored`, straight into `output`, with the checks of ``Zstd/decompress(_:rawCount:)``.
    ///
    /// - Throws: ``ZstdFailure`` as ``Zstd/decompress(_:rawCount:)``.
    public func decompress(_ stored: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(ZstdFailure) {
        try Zstd.checkFrame(stored, rawCount: output.count)
        try decompressChecked(stored, into: output)
    }

    func decompressChecked(_ stored: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(ZstdFailure) {
        let produced = ZSTD_decompressDCtx(context, output.baseAddress, output.count, stored.baseAddress, stored.count)
        guard ZSTD_isError(produced) == 0 else { throw ZstdFailure(reason: "chunk's zstd frame is damaged: \(Zstd.errorName(produced))") }
        guard produced == output.count else {
            throw ZstdFailure(reason: "chunk decompresses to \(produced) bytes, expected \(output.count)")
        }
    }
}

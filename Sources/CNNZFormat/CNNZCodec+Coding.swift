import CNNKitByteKernels
import ZlibCoding
import ZstdCoding

/// Encoding and decoding one chunk (`Schemas/cnnz.md` section 5).
extension CNNZCodec {
    /// The zlib strategy the writer uses: `Z_DEFAULT_STRATEGY` for `deflate`, `Z_RLE` for `shuffle-deflate`
    /// (section 5.3). The strategy does not change the format: any zlib stream decodes.
    var zlibStrategy: Zlib.Strategy {
        self == .shuffleDeflate ? .runLength : .standard
    }

    /// True for the codecs that group bytes by position before compressing (section 5.3).
    var isShuffled: Bool { self == .shuffleDeflate || self == .shuffleZstd }

    /// Encodes one chunk of raw stored-dtype bytes and returns the stored bytes: a view of `raw` itself for
    /// `raw`, else of `output` (valid until `output` is used again).
    ///
    /// - Parameters:
    ///   - raw: the chunk's raw bytes, a whole number of elements.
    ///   - elementSize: the dtype's size, for the shuffle.
    ///   - level: the zlib level 0-9, or the zstd level 1-22 for `shuffle-zstd`.
    ///   - coder: the calling thread's shuffle buffer and zstd context.
    ///   - output: where the stored bytes go.
    /// - Throws: ``CNNZError/invalidWrite(reason:)`` when zlib or libzstd fails (which they do only for a bad level).
    func encode(_ raw: UnsafeRawBufferPointer, elementSize: Int, level: Int, coder: ChunkCoder, output: ChunkBuffer) throws -> UnsafeRawBufferPointer {
        switch self {
        case .raw:
            return raw
        case .deflate:
            return try output.keep(Self.deflate(Array(raw), level: level, strategy: zlibStrategy))
        case .shuffleDeflate:
            let grouped = coder.shuffle(raw, elementSize: elementSize)
            return try output.keep(Self.deflate(Array(grouped), level: level, strategy: zlibStrategy))
        case .shuffleZstd:
            let grouped = coder.shuffle(raw, elementSize: elementSize)
            do {
                let encoder = try coder.zstdEncoder()
                let out = output.bytes(Zstd.compressBound(grouped.count))
                let written = try encoder.compress(grouped, into: out, level: level)
                return UnsafeRawBufferPointer(rebasing: out[0..<written])
            } catch {
                throw CNNZError.invalidWrite(reason: error.reason)
            }
        }
    }

    /// Decodes one stored chunk of `count` elements of `dtype` straight into `out[0..<count]` as float32.
    ///
    /// - Throws: ``ChunkDecodeFailure`` when the stream is damaged or its output is not exactly
    ///   `count * dtype.size` bytes.
    func decode(_ stored: UnsafeRawBufferPointer, count: Int, dtype: CNNZDType, coder: ChunkCoder,
                into out: UnsafeMutablePointer<Float>) throws(ChunkDecodeFailure) {
        let rawCount = count * dtype.size
        switch self {
        case .raw:
            guard stored.count == rawCount else {
                throw ChunkDecodeFailure(reason: "raw chunk holds \(stored.count) bytes, expected \(rawCount)")
            }
            dtype.decode(stored, count: count, into: out)
        case .deflate:
            let raw = try Self.inflate(stored, rawCount: rawCount)
            raw.withUnsafeBytes { dtype.decode($0, count: count, into: out) }
        case .shuffleDeflate:
            let grouped = try Self.inflate(stored, rawCount: rawCount)
            grouped.withUnsafeBytes { coder.unshuffle($0, count: count, dtype: dtype, into: out) }
        case .shuffleZstd:
            let grouped = coder.grouped.bytes(rawCount)
            do {
                try coder.zstdDecoder().decompress(stored, into: grouped)
            } catch {
                throw ChunkDecodeFailure(reason: error.reason)
            }
            coder.unshuffle(UnsafeRawBufferPointer(grouped), count: count, dtype: dtype, into: out)
        }
    }

    /// Groups byte `j` of every element together: `out[j * n + i] = raw[i * size + j]` (section 5.3).
    static func shuffle(_ raw: [UInt8], elementSize size: Int) -> [UInt8] {
        regroup(raw, elementSize: size, cnnkit_shuffle)
    }

    /// The inverse of ``shuffle(_:elementSize:)``.
    static func unshuffle(_ grouped: [UInt8], elementSize size: Int) -> [UInt8] {
        regroup(grouped, elementSize: size, cnnkit_unshuffle)
    }

    /// `bytes` as a new array written by `kernel(destination, source, elementCount, size)`; the bytes themselves
    /// for one-byte elements.
    private static func regroup(_ bytes: [UInt8], elementSize size: Int,
                                _ kernel: (UnsafeMutablePointer<UInt8>, UnsafePointer<UInt8>, Int, Int) -> Void) -> [UInt8] {
        guard size > 1 else { return bytes }
        return [UInt8](unsafeUninitializedCapacity: bytes.count) { out, count in
            bytes.withUnsafeBufferPointer { src in
                if let s = src.baseAddress, let d = out.baseAddress { kernel(d, s, bytes.count / size, size) }
            }
            count = bytes.count
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

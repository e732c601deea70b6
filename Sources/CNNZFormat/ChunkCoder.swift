import CNNKitByteKernels
import ZstdCoding

/// A growable, 64-byte aligned byte buffer that keeps its memory between uses (chunk buffers of the reader and
/// writer: touched once, then warm).
final class ChunkBuffer {
    private var buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    deinit { buffer.deallocate() }

    /// The first `capacity` bytes (contents unspecified), growing the buffer when it is smaller.
    func bytes(_ capacity: Int) -> UnsafeMutableRawBufferPointer {
        if buffer.count < capacity {
            buffer.deallocate()
            buffer = .allocate(byteCount: max(capacity, 64), alignment: 64)
        }
        return UnsafeMutableRawBufferPointer(rebasing: buffer[0..<capacity])
    }

    /// Copies bytes another library returned into the buffer and returns their view there.
    func keep(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
        let out = self.bytes(bytes.count)
        bytes.withUnsafeBytes { if let base = $0.baseAddress { out.baseAddress!.copyMemory(from: base, byteCount: $0.count) } }
        return UnsafeRawBufferPointer(out)
    }
}

/// One thread's working memory for coding chunks (`Schemas/cnnz.md` sections 9 and 10): the shuffle buffer, a raw
/// buffer, a stored-chunk buffer and the zstd contexts, allocated on first use and reused for every later chunk,
/// so a chunk costs no allocation and touches no fresh memory. A coder is used by one thread at a time.
final class ChunkCoder {
    /// Grouped planes: the shuffle's output, the decompressor's output.
    let grouped = ChunkBuffer()
    /// Raw bytes of a dtype that is unshuffled before it is converted.
    let raw = ChunkBuffer()
    /// Stored chunks read from a file.
    let stored = ChunkBuffer()
    private var encoder: ZstdEncoder?
    private var decoder: ZstdDecoder?

    /// The thread's compression context.
    func zstdEncoder() throws(ZstdFailure) -> ZstdEncoder {
        if let encoder { return encoder }
        let made = try ZstdEncoder()
        encoder = made
        return made
    }

    /// The thread's decompression context.
    func zstdDecoder() throws(ZstdFailure) -> ZstdDecoder {
        if let decoder { return decoder }
        let made = try ZstdDecoder()
        decoder = made
        return made
    }

    /// `raw` grouped by byte position into the shuffle buffer (section 5.3), in SIMD.
    func shuffle(_ raw: UnsafeRawBufferPointer, elementSize size: Int) -> UnsafeRawBufferPointer {
        guard size > 1, let source = raw.baseAddress else { return raw }
        let out = grouped.bytes(raw.count)
        cnnkit_shuffle(out.baseAddress!.assumingMemoryBound(to: UInt8.self), source.assumingMemoryBound(to: UInt8.self),
                       raw.count / size, size)
        return UnsafeRawBufferPointer(out)
    }

    /// Unshuffles `count` elements of `dtype` from their planes in `grouped` into `out` as float32: float32 and
    /// bfloat16 in one SIMD pass straight into `out`, other dtypes through the raw buffer.
    func unshuffle(_ grouped: UnsafeRawBufferPointer, count: Int, dtype: CNNZDType, into out: UnsafeMutablePointer<Float>) {
        guard count > 0, let source = grouped.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        #if _endian(little)
        if dtype == .float32 {
            UnsafeMutableRawPointer(out).withMemoryRebound(to: UInt8.self, capacity: count * 4) { cnnkit_unshuffle($0, source, count, 4) }
            return
        }
        #endif
        if dtype == .bfloat16 {
            cnnkit_unshuffle_bfloat16_to_float32(out, source, count)
            return
        }
        let raw = self.raw.bytes(count * dtype.size)
        cnnkit_unshuffle(raw.baseAddress!.assumingMemoryBound(to: UInt8.self), source, count, dtype.size)
        dtype.decode(UnsafeRawBufferPointer(raw), count: count, into: out)
    }
}

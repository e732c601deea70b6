import ConvNet
import Foundation
import ModelArchive
import Testing
import ZstdCoding
@testable @_spi(Fuzzing) import CNNZFormat

/// `shuffle-zstd` (`Schemas/cnnz.md` section 5.4), the 1.1 version rule (section 7) and parallel chunk coding
/// (sections 6 and 9).
@Suite("CNNZ shuffle-zstd and parallel chunks")
struct ZstdCodecTests {
    /// Replaces chunk `k` of tensor `t` of the base file with `stored`, keeping its CRC right so that only the
    /// codec can object.
    static func replacingChunk(_ t: Int, _ k: Int, with stored: (_ old: [UInt8]) throws -> [UInt8]) throws -> [UInt8] {
        var parts = try FileParts(ErrorCaseTests.base(codec: .shuffleZstd))
        parts.minor = 1
        var tensors = parts.tensors
        var chunks = ErrorCaseTests.chunks(tensors[t])
        let start = (chunks[k]["offset"] as? Int ?? 0) - 16, count = chunks[k]["stored"] as? Int ?? 0
        let new = try stored(Array(parts.data[start..<(start + count)]))
        parts.data.replaceSubrange(start..<(start + count), with: new)
        chunks[k]["stored"] = new.count
        chunks[k]["crc32"] = Int(CRC32.checksum(new))
        // Later chunks move by the change in size.
        for j in chunks.indices where j > k { chunks[j]["offset"] = (chunks[j]["offset"] as? Int ?? 0) + new.count - count }
        tensors[t]["chunks"] = chunks
        for u in tensors.indices where u > t {
            var later = ErrorCaseTests.chunks(tensors[u])
            for j in later.indices { later[j]["offset"] = (later[j]["offset"] as? Int ?? 0) + new.count - count }
            tensors[u]["chunks"] = later
        }
        parts.tensors = tensors
        return try parts.assemble()
    }

    /// Expects a decompression failure of tensor `tensor`, chunk `chunk`, whose message names both and the offset.
    static func expectChunkFailure(_ bytes: [UInt8], tensor: String, chunk: Int, saying words: String,
                                   sourceLocation: SourceLocation = #_sourceLocation) {
        expectReadError(bytes, sourceLocation: sourceLocation) { error in
            guard case let .decompressionFailed(l, reason) = error else { return false }
            let text = error.description
            return l.tensor == tensor && l.chunk == chunk && l.offset != nil && reason.contains(words)
                && text.contains("test.cnnz") && text.contains("tensor \(tensor)") && text.contains("chunk \(chunk)") && text.contains("at byte ")
        }
    }

    @Test("the base file in shuffle-zstd reads back and is version 1.1; the other codecs still write 1.0")
    func versions() throws {
        let bytes = try ErrorCaseTests.base(codec: .shuffleZstd)
        #expect(bytes[9] == 1 && bytes[10] == 1)
        let reader = try CNNZReader(bytes: bytes, name: "t", options: .container)
        #expect(reader.minorVersion == 1)
        #expect(reader.tensors.allSatisfy { $0.codec == .shuffleZstd })
        let document = try CNNZModel.read(bytes: bytes, name: "t", options: .container)
        #expect(document.tensors[0].tensor.scalars == (0..<32).map { Float($0) / 7 })
        for codec in [CNNZCodec.raw, .deflate, .shuffleDeflate] {
            #expect(try ErrorCaseTests.base(codec: codec)[10] == 0, "\(codec)")
        }
        #expect(CNNZWriteOptions().codec == .shuffleZstd && CNNZWriteOptions().level == 1)
    }

    @Test("a damaged zstd chunk with a matching CRC fails naming file, tensor, chunk and offset")
    func damagedChunk() throws {
        // Flip bits in the compressed body (past the frame header) of tensor b's first chunk.
        let damaged = try Self.replacingChunk(1, 0) { old in
            var new = old
            for i in stride(from: 8, to: new.count, by: 3) { new[i] ^= 0x5A }
            return new
        }
        Self.expectChunkFailure(damaged, tensor: "b", chunk: 0, saying: "zstd")
        // Not a zstd frame at all.
        Self.expectChunkFailure(try Self.replacingChunk(0, 1) { old in [UInt8](repeating: 0x42, count: old.count) },
                                tensor: "a", chunk: 1, saying: "not a zstd frame")
        // Bytes after the frame.
        Self.expectChunkFailure(try Self.replacingChunk(1, 1) { $0 + [0, 0, 0] }, tensor: "b", chunk: 1, saying: "follow the end")
        // Truncated frame.
        Self.expectChunkFailure(try Self.replacingChunk(1, 1) { Array($0.dropLast(2)) }, tensor: "b", chunk: 1, saying: "zstd frame")
    }

    @Test("a zstd frame declaring another content size is refused before allocating", arguments: [-4, 4, 4096])
    func declaredSize(_ delta: Int) throws {
        // Tensor b's second chunk holds 32 raw bytes.
        let bytes = try Self.replacingChunk(1, 1) { _ in
            try [UInt8](repeating: 7, count: 32 + delta).withUnsafeBytes { try Zstd.compress($0, level: 1) }
        }
        Self.expectChunkFailure(bytes, tensor: "b", chunk: 1, saying: "declares \(32 + delta) bytes, expected 32")
    }

    @Test("a zstd chunk too small for its raw size is refused from the table (expansion cap 32768)")
    func expansionCap() throws {
        #expect(CNNZLayout.maxZstdRatio == 32768)
        let document = ModelDocument(architecture: .seed, tensors: [
            NamedTensor(name: "z", tensor: Tensor(shape: [1 << 18], scalars: [Float](repeating: 0, count: 1 << 18))),
        ])
        var parts = try FileParts(CNNZModel.encode(document, options: CNNZWriteOptions(codec: .shuffleZstd)))
        parts.minor = 1
        var tensors = parts.tensors
        var chunks = ErrorCaseTests.chunks(tensors[0])
        let stored = try #require(chunks[0]["stored"] as? Int)
        #expect(stored > 32 && stored < 200, "1 MiB of zeros is a few RLE blocks: \(stored)")
        #expect(try CNNZModel.read(bytes: parts.assemble(), name: "t", options: .container).tensors[0].tensor.scalars.allSatisfy { $0 == 0 })
        chunks[0]["stored"] = 31
        tensors[0]["chunks"] = chunks
        parts.tensors = tensors
        expectReadError(try parts.assemble()) { error in
            guard case let .invalidTensorEntry(l, reason) = error else { return false }
            return l.tensor == "z" && l.chunk == 0 && reason.contains("shuffle-zstd")
        }
    }

    @Test("a codec this reader does not know is an error naming it")
    func unknownCodec() throws {
        let bytes = try ErrorCaseTests.withFirstTensor(codec: .shuffleZstd) { $0["codec"] = "shuffle-brotli" }
        expectReadError(bytes) { error in
            guard case .unknownCodec(_, "shuffle-brotli") = error else { return false }
            return error.description.contains("shuffle-brotli") && error.description.contains("a")
        }
    }

    @Test("a zstd level outside 1-22 is refused by the writer", arguments: [0, 23, -1])
    func badLevel(_ level: Int) {
        #expect(throws: CNNZError.self) { try ErrorCaseTests.base(codec: .shuffleZstd, level: level) }
    }

    /// A document with tensors of several chunks in every dtype the writer stores parameters in.
    static func manyChunks(_ dtype: CNNZDType) -> ModelDocument {
        var rng = RandomGenerator(seed: 99)
        let sizes = [5000, 77, 1, 3333]
        return ModelDocument(architecture: .seed, tensors: sizes.enumerated().map { i, n in
            NamedTensor(name: "t\(i)", tensor: Tensor(shape: [n], scalars: (0..<n).map { j in
                dtype.isInteger ? Float(j % 200) : Float(rng.nextGaussian()) * 0.02
            }))
        })
    }

    @Test("the bytes written do not depend on the thread count; reading with any thread count gives the same values",
          arguments: CNNZCodec.allCases, [CNNZDType.float32, .bfloat16, .float64, .uint8])
    func threadIdentity(_ codec: CNNZCodec, _ dtype: CNNZDType) throws {
        let document = Self.manyChunks(dtype)
        let outputs = try [1, 2, 3, 8].map { threads in
            try CNNZModel.encode(document, options: CNNZWriteOptions(codec: codec, dtype: dtype, chunkSize: 256, threads: threads))
        }
        for output in outputs.dropFirst() { #expect(output == outputs[0]) }
        let reads = try [1, 2, 5].map { threads in
            try CNNZModel.read(bytes: outputs[0], name: "t", options: CNNZReadOptions(threads: threads).asContainer).tensors.map(\.tensor.scalars)
        }
        for read in reads.dropFirst() { #expect(read.elementsEqual(reads[0]) { $0.elementsEqual($1) { $0.bitPattern == $1.bitPattern } }) }
        #expect(reads[0].count == 4)
    }

    @Test("an error in one chunk is reported whatever the thread count (the first failing chunk in order)")
    func errorWithThreads() throws {
        let document = Self.manyChunks(.float32)
        var bytes = try CNNZModel.encode(document, options: CNNZWriteOptions(codec: .shuffleZstd, chunkSize: 256, threads: 2))
        let reader = try CNNZReader(bytes: bytes, name: "t", options: .container)
        let chunk = reader.tensors[0].chunks[7]
        bytes[Int(chunk.offset) + Int(chunk.storedBytes) / 2] ^= 0xFF
        for threads in [1, 2, 4] {
            do {
                _ = try CNNZModel.read(bytes: bytes, name: "t", options: CNNZReadOptions(threads: threads).asContainer)
                Issue.record("expected an error")
            } catch let error as CNNZError {
                guard case let .checksumMismatch(l, .chunk, _, _) = error else { Issue.record("\(error)"); continue }
                #expect(l.tensor == "t0" && l.chunk == 7 && l.offset == chunk.offset)
            }
        }
    }
}

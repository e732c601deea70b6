import ConvNet
import Foundation
import ModelArchive
import Testing
@testable @_spi(Fuzzing) import CNNZFormat

/// The decisions of `Schemas/cnnz.md` Appendix B (sections 4.2, 4.4, 4.5), each on a file made for it from the
/// tiny fixture. `Tests/Interop/test_cnnz.py` holds the same cases against `cnnkit inspect` and the spec's reader.
@Suite("CNNZ header rules (spec Appendix B)")
struct HeaderRuleTests {
    static let base: [UInt8] = (try? CNNZModel.encode(tinyDocument(), options: CNNZWriteOptions(codec: .raw))) ?? []

    /// The base file with its header text edited (`old` must occur once or more; the first is replaced).
    static func edited(_ old: String, _ new: String) throws -> [UInt8] {
        try withHeader { header in
            let text = String(decoding: header, as: UTF8.self)
            try #require(text.contains(old), "\(old) not in the header")
            return Array(text.replacing(old, with: new, maxReplacements: 1).utf8)
        }
    }

    static func withHeader(_ change: ([UInt8]) throws -> [UInt8]) throws -> [UInt8] {
        let parts = try FileParts(base)
        let n = base.count
        let offset = 16 + parts.data.count
        return try parts.assemble(headerJSON: change(Array(base[offset..<(n - 32)])))
    }

    /// The reason of the malformed-header error reading `bytes` gives, or nil when it reads.
    static func reason(_ bytes: [UInt8]) -> String? {
        do {
            _ = try CNNZModel.read(bytes: bytes, name: "h.cnnz")
            return nil
        } catch {
            return "\(error)"
        }
    }

    static func expectRefused(_ bytes: [UInt8], saying words: String..., sourceLocation: SourceLocation = #_sourceLocation) {
        guard let message = reason(bytes) else {
            Issue.record("read without an error", sourceLocation: sourceLocation)
            return
        }
        for w in words { #expect(message.contains(w), "\(message)", sourceLocation: sourceLocation) }
        #expect(message.hasPrefix("h.cnnz: at byte "), "\(message)", sourceLocation: sourceLocation)
    }

    @Test("the base file reads")
    func baseReads() throws {
        #expect(Self.reason(Self.base) == nil)
    }

    @Test("a UTF-8 byte order mark before the JSON is refused; whitespace around tokens is not")
    func byteOrderMark() throws {
        let bom = try Self.withHeader { [0xEF, 0xBB, 0xBF] + $0 }
        Self.expectRefused(bom, saying: "byte order mark")
        let offset = try CNNZReader(bytes: Self.base, name: "b").headerOffset
        #expect(Self.reason(bom)?.hasPrefix("h.cnnz: at byte \(offset): malformed header") == true)
        #expect(Self.reason(try Self.withHeader { Array(" \n".utf8) + $0 + Array("\r\n\t".utf8) }) == nil)
        Self.expectRefused(try Self.withHeader { $0 + Array("x".utf8) }, saying: "after the JSON value")
        Self.expectRefused(try Self.edited("\"made_by\":\"CNNZFormatTests\"", "\"made_by\":\"\\ud800\""), saying: "lone UTF-16 surrogate")
        Self.expectRefused(try Self.withHeader { h in h.map { $0 == UInt8(ascii: "Z") ? 0xFF : $0 } }, saying: "not valid UTF-8")
    }

    @Test("a key given twice in one object is refused anywhere, naming the key and its byte")
    func duplicateKeys() throws {
        let top = try Self.edited("{\"architecture\"", "{\"chunk_size\":64,\"architecture\"")
        Self.expectRefused(top, saying: "duplicate key \"chunk_size\"")
        Self.expectRefused(try Self.edited("\"made_by\":", "\"made_by\":\"x\",\"made_by\":"), saying: "duplicate key \"made_by\"")
        Self.expectRefused(try Self.edited("\"units\":3", "\"units\":3,\"units\":3"), saying: "duplicate key \"units\"")
        // The error points at the second key: the original one, after the inserted one.
        let header = try CNNZReader(bytes: Self.base, name: "b").headerOffset
        let text = String(decoding: Self.base[Int(header)...], as: UTF8.self)
        let original = try #require(text.range(of: "\"chunk_size\""))
        let expected = header + UInt64(text.utf8.distance(from: text.startIndex, to: original.lowerBound)) + UInt64(#""chunk_size":64,"#.utf8.count)
        let error = #expect(throws: CNNZError.self) { try CNNZReader(bytes: top, name: "h.cnnz") }
        #expect(error?.location?.offset == expected)
    }

    @Test("integers are digits only: 1048576.0, 1e3, -0 and -0.0 are refused where an integer is expected")
    func integerTokens() throws {
        Self.expectRefused(try Self.edited("\"chunk_size\":1048576", "\"chunk_size\":1048576.0"), saying: "chunk_size", "found 1048576.0")
        Self.expectRefused(try Self.edited("\"chunk_size\":1048576", "\"chunk_size\":1.048576e6"), saying: "digits only")
        Self.expectRefused(try Self.edited("\"epoch\":1,", "\"epoch\":-0,"), saying: "training_state.epoch", "no sign")
        Self.expectRefused(try Self.edited("\"epoch\":1,", "\"epoch\":-0.0,"), saying: "training_state.epoch", "found -0.0")
        Self.expectRefused(try Self.edited("\"units\":3", "\"units\":3.0"), saying: "architecture.layers[3].units")
        // A number field takes an integer token.
        #expect(Self.reason(try Self.edited("\"loss\":0.5", "\"loss\":1")) == nil)
    }

    @Test("integers above 2^63 are compared exactly: a u64 field takes 2^64 - 1, and 2^64 does not fit in 64 bits")
    func largeIntegers() throws {
        let max = try Self.edited("\"seed\":7", "\"seed\":18446744073709551615")
        #expect(try CNNZReader(bytes: max, name: "m").trainingState?.seed == UInt64.max)
        Self.expectRefused(try Self.edited("\"seed\":7", "\"seed\":18446744073709551616"), saying: "training_state.seed", "does not fit in 64 bits")
        Self.expectRefused(try Self.edited("\"offset\":64,", "\"offset\":99999999999999999999999,"), saying: "tensors[0].chunks[0].offset", "does not fit in 64 bits")
        Self.expectRefused(try Self.edited("\"step\":10", "\"step\":9223372036854775808"), saying: "from 0 to 9223372036854775807")
        Self.expectRefused(try Self.edited("\"crc32\":", "\"crc32\":4294967296,\"x\":"), saying: "from 0 to 4294967295")
    }

    @Test("numbers are checked in their field's type: no overflow, no underflow to 0")
    func numbers() throws {
        Self.expectRefused(try Self.edited("\"loss\":0.5", "\"loss\":1e400"), saying: "out of the range of a 64-bit float")
        Self.expectRefused(try Self.edited("\"learningRate\":0.005", "\"learningRate\":1e-50"), saying: "too small for float32")
        Self.expectRefused(try Self.edited("\"beta2\":0.999", "\"beta2\":0.99999999999"), saying: "below 1 as float32")
        #expect(Self.reason(try Self.edited("\"loss\":0.5", "\"loss\":\"NaN\"")) == nil)
    }

    @Test("open objects ignore unknown keys; the architecture and the optimizer are closed")
    func openAndClosed() throws {
        #expect(Self.reason(try Self.edited("{\"architecture\"", "{\"future\":{\"a\":[1e400,-0.0]},\"architecture\"")) == nil)
        #expect(Self.reason(try Self.edited("\"training_state\":{", "\"training_state\":{\"future\":1,")) == nil)
        #expect(Self.reason(try Self.edited("{\"crc32\":", "{\"future\":1,\"crc32\":")) == nil)
        Self.expectRefused(try Self.edited("\"version\":1", "\"version\":1,\"dtype\":\"float32\""), saying: "unknown key 'dtype'")
        Self.expectRefused(try Self.edited("\"units\":3", "\"units\":3,\"dilation\":[2,2]"), saying: "unknown key 'dilation'")
        Self.expectRefused(try Self.edited("\"nesterov\":false", "\"nesterov\":false,\"weight_decay\":0.1"),
                           saying: "training_state.optimizer", "unknown key \"weight_decay\"")
    }

    @Test("training_state ranges: no negative counter, batch_size at least 1, 4 lowercase hex words not all zero")
    func trainingStateRanges() throws {
        Self.expectRefused(try Self.edited("\"epoch\":1,", "\"epoch\":-1,"), saying: "training_state.epoch")
        Self.expectRefused(try Self.edited("\"batch_size\":2", "\"batch_size\":0"), saying: "training_state.batch_size", "from 1 to")
        Self.expectRefused(try Self.edited("\"rng_state\":[\"1\"", "\"rng_state\":[\"A\""), saying: "training_state.rng_state[0]", "lowercase hex")
        Self.expectRefused(try Self.edited("\"rng_state\":[\"1\",\"2\",\"3\",\"4\"]", "\"rng_state\":[\"1\",\"2\",\"3\"]"), saying: "exactly 4 items")
        Self.expectRefused(try Self.edited("\"rng_state\":[\"1\",\"2\",\"3\",\"4\"]", "\"rng_state\":[\"0\",\"0\",\"0\",\"0\"]"), saying: "must not all be zero")
        Self.expectRefused(try Self.edited("\"trainAccuracy\":0.75", "\"trainAccuracy\":1.5"), saying: "from 0 to 1")
    }

    /// The tiny document with `change` applied, written by our writer (which does not check it).
    static func written(_ change: (inout ModelDocument) -> Void) throws -> [UInt8] {
        var document = tinyDocument()
        change(&document)
        return try CNNZModel.encode(document, options: CNNZWriteOptions(codec: .raw))
    }

    @Test("section 4.2 is checked on opening: a scalar dense.bias, a missing or extra parameter, the slots, the probes, the roles")
    func tensorsAgainstArchitecture() throws {
        let scalar = try Self.written { $0.tensors[3] = NamedTensor(name: "dense.bias", tensor: Tensor(shape: [], scalars: [1])) }
        let error = #expect(throws: CNNZError.self) { try CNNZReader(bytes: scalar, name: "h.cnnz") }
        #expect(error?.location?.tensor == "dense.bias")
        #expect("\(error.map { "\($0)" } ?? "")".contains("does not fit the architecture: expected shape [3], found []"))
        #expect(error?.category == .invalidInput)
        // As a plain container the same file reads.
        #expect(try CNNZReader(bytes: scalar, name: "h.cnnz", options: .container).tensors[3].shape == [])
        Self.expectRefused(try Self.written { $0.tensors.removeLast() }, saying: "tensor dense.bias", "missing")
        Self.expectRefused(try Self.written { $0.tensors.append(NamedTensor(name: "dense.extra", tensor: Tensor(zeros: [3]))) },
                           saying: "tensor dense.extra", "neither a parameter")
        // Adam keeps momentum and velocity: a file with only momentum slots misses the velocities.
        Self.expectRefused(try Self.written { $0.trainingState?.optimizer.kind = .adam }, saying: "tensor optimizer.conv2d.kernel.velocity", "missing")
        // SGD without momentum keeps no slot.
        Self.expectRefused(try Self.written { $0.trainingState?.optimizer.momentum = 0 }, saying: "optimizer.conv2d.bias.momentum", "neither")
        Self.expectRefused(try Self.written { $0.probes?.outputs = Tensor(shape: [1, 4], scalars: [0, 0, 0, 0]) }, saying: "probes.outputs", "[1, 3]")
    }

    @Test("lossy is true only on float16 and bfloat16 tensors")
    func lossyFlag() throws {
        Self.expectRefused(try Self.edited("\"name\":\"dense.bias\"", "\"lossy\":true,\"name\":\"dense.bias\""), saying: "tensor dense.bias", "\"lossy\": true on a float32 tensor")
        #expect(Self.reason(try Self.edited("\"name\":\"dense.bias\"", "\"lossy\":false,\"name\":\"dense.bias\"")) == nil)
    }

    @Test("cnnz. metadata keys are never written, and a stored cnnz.lossy is ignored on reading")
    func cnnzMetadata() throws {
        let stale = try Self.written { $0.metadata["cnnz.lossy"] = "dense.kernel:float16"; $0.metadata["cnnz.other"] = "x" }
        let reader = try CNNZReader(bytes: stale, name: "s")
        #expect(reader.storedMetadata["cnnz.lossy"] == nil && reader.storedMetadata["cnnz.other"] == nil)
        #expect(reader.metadata["cnnz.lossy"] == nil)
        let old = try Self.edited("\"made_by\"", "\"cnnz.lossy\":\"dense.kernel:float16\",\"cnnz.x\":\"y\",\"made_by\"")
        let oldReader = try CNNZReader(bytes: old, name: "o")
        #expect(oldReader.metadata["cnnz.lossy"] == nil && oldReader.metadata["cnnz.x"] == nil && oldReader.metadata["made_by"] != nil)
        // Rewriting a float16 document as float32 gives a file that reports no lossy tensor.
        var document = try CNNZModel.read(bytes: CNNZModel.encode(tinyDocument(), options: CNNZWriteOptions(dtype: .float16)), name: "f16")
        #expect(document.metadata["cnnz.lossy"]?.hasPrefix("conv2d.kernel:float16") == true)
        let float32 = try CNNZReader(bytes: CNNZModel.encode(document, options: CNNZWriteOptions(dtype: .float32)), name: "f32")
        #expect(float32.metadata["cnnz.lossy"] == nil && float32.tensors.allSatisfy { !$0.lossy })
        document.metadata["cnnz.lossy"] = "stale"
        let bfloat16 = try CNNZReader(bytes: CNNZModel.encode(document, options: CNNZWriteOptions(dtype: .bfloat16)), name: "bf16")
        #expect(bfloat16.metadata["cnnz.lossy"]?.hasPrefix("conv2d.kernel:bfloat16,") == true)
    }

    @Test("any header text gives a document or a CNNZError of category invalidInput, never a crash")
    func everyHeaderByte() throws {
        let header = try Self.withHeader { $0 }
        let offset = Int(try CNNZReader(bytes: header, name: "b").headerOffset)
        let text = Array(header[offset..<(header.count - 32)])
        func expectHandled(_ json: [UInt8], _ what: String) throws {
            do {
                _ = try CNNZModel.read(bytes: try Self.withHeader { _ in json }, name: "h.cnnz")
            } catch let error as CNNZError {
                #expect(error.category == .invalidInput, "\(what): \(error)")
            } catch {
                Issue.record("\(what): not a CNNZError: \(error)")
            }
        }
        for i in stride(from: 0, to: text.count, by: 3) {
            for byte: UInt8 in [0x22, 0x2D, 0x30, 0x5C, 0x7B, 0xFF] {
                var changed = text
                changed[i] = byte
                try expectHandled(changed, "byte \(i) = \(byte)")
            }
            try expectHandled(Array(text.prefix(i)), "cut at \(i)")
        }
        // Nesting far past the cap is refused without exhausting the stack.
        let deep = Array("{\"x\":".utf8) + [UInt8](repeating: UInt8(ascii: "["), count: 100_000) + [UInt8](repeating: UInt8(ascii: "]"), count: 100_000) + Array("}".utf8)
        Self.expectRefused(try Self.withHeader { _ in deep }, saying: "nested deeper than 64")
    }

    /// One tensor of 1 MiB of zeros then 1 MiB of noise, in 1 MiB chunks: chunk 0 compresses about 1000:1, chunk 1
    /// not at all.
    static func zerosThenNoise(_ options: CNNZWriteOptions) throws -> [UInt8] {
        var rng = RandomGenerator(seed: 5)
        let n = 1 << 18
        let values = [Float](repeating: 0, count: n) + (0..<n).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0x3FFF_FFFF) }
        return try CNNZModel.encode(ModelDocument(architecture: .seed, tensors: [NamedTensor(name: "z", tensor: Tensor(shape: [2 * n], scalars: values))]),
                                    options: options)
    }

    @Test("1032 * stored bounds each chunk on its own, not the tensor; a stored chunk may exceed its raw size")
    func chunkBounds() throws {
        // Level 0 stores: each chunk is larger than its 1 MiB of raw bytes, and reads.
        let stored = try Self.zerosThenNoise(CNNZWriteOptions(codec: .deflate, level: 0))
        let reader = try CNNZReader(bytes: stored, name: "s", options: .container)
        #expect(reader.tensors[0].chunks.allSatisfy { $0.storedBytes > $0.rawBytes && $0.rawBytes == 1 << 20 })
        #expect(try reader.readTensor(at: 0).scalars.count == 1 << 19)
        // Chunk 0 shrunk below raw / 1032 is refused, although the tensor's 2 MiB are far below 1032 times its stored bytes.
        var parts = try FileParts(Self.zerosThenNoise(CNNZWriteOptions(codec: .deflate)))
        var tensors = parts.tensors
        var chunks = ErrorCaseTests.chunks(tensors[0])
        let first = try #require(chunks[0]["stored"] as? Int), second = try #require(chunks[1]["stored"] as? Int)
        #expect(first * 1032 >= 1 << 20 && first < 1100 && (2 << 20) <= 1032 * ((1 << 20) / 1032 - 1 + second))
        chunks[0]["stored"] = (1 << 20) / 1032 - 1
        tensors[0]["chunks"] = chunks
        parts.tensors = tensors
        let error = #expect(throws: CNNZError.self) { try CNNZReader(bytes: parts.assemble(), name: "h.cnnz", options: .container) }
        guard case let .invalidTensorEntry(l, reason)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(l.chunk == 0 && reason.contains("cannot decompress to 1048576 raw bytes"))
    }

    @Test("CNNKit's model writer (ModelFiles' CNNZ format) refuses a model its reader would refuse, leaving nothing")
    func writerChecksTheModel() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var document = tinyDocument()
        document.trainingState?.optimizer.kind = .adam          // Adam needs velocity slots the document lacks
        let path = folder + "/m.cnnz"
        let error = #expect(throws: CNNZError.self) {
            try CNNZFileFormat().write(StreamedModel(document: document), to: path, options: SaveOptions())
        }
        guard case let .invalidWrite(reason)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(reason.contains("tensor optimizer.conv2d.kernel.velocity") && reason.contains("missing"))
        #expect(!FileManager.default.fileExists(atPath: path))
        try CNNZFileFormat().write(StreamedModel(document: tinyDocument()), to: path, options: SaveOptions())
        #expect(try CNNZReader(path: path).tensors.count == 10)
    }
}

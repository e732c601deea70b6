import ConvNet
import Foundation
import ModelArchive
import Testing
@testable @_spi(Fuzzing) import CNNZFormat

/// One test per reader rule, each on bytes built by hand from a valid file (`Schemas/cnnz.md` section 6).
@Suite("CNNZ reader errors")
struct ErrorCaseTests {
    /// A small valid file: two float32 tensors of 32 and 24 elements in 64-byte chunks (so two chunks each, the last of b half full).
    static func base(codec: CNNZCodec = .deflate, level: Int? = nil) throws -> [UInt8] {
        let document = ModelDocument(architecture: .seed, tensors: [
            NamedTensor(name: "a", tensor: Tensor(shape: [4, 8], scalars: (0..<32).map { Float($0) / 7 })),
            NamedTensor(name: "b", tensor: Tensor(shape: [24], scalars: (0..<24).map { Float($0) * 3 })),
        ])
        return try CNNZModel.encode(document, options: CNNZWriteOptions(codec: codec, level: level, chunkSize: 64))
    }

    /// Rebuilds the base file after `change` edits the first tensor's entry.
    static func withFirstTensor(codec: CNNZCodec = .deflate, _ change: (inout [String: Any]) -> Void) throws -> [UInt8] {
        var parts = try FileParts(base(codec: codec))
        var tensors = parts.tensors
        change(&tensors[0])
        parts.tensors = tensors
        return try parts.assemble()
    }

    static func chunks(_ t: [String: Any]) -> [[String: Any]] { t["chunks"] as? [[String: Any]] ?? [] }

    @Test("the base file reads")
    func baseReads() throws {
        #expect(try CNNZModel.read(bytes: Self.base(), name: "t", options: .container).tensors.count == 2)
        #expect(try CNNZModel.read(bytes: FileParts(Self.base()).assemble(), name: "t", options: .container).tensors.count == 2)
    }

    @Test("bad magic")
    func badMagic() throws {
        var bytes = try Self.base()
        bytes[1] = UInt8(ascii: "X")
        expectReadError(bytes) { if case .badMagic = $0 { true } else { false } }
        expectReadError(Array("hello, world".utf8)) { if case .badMagic = $0 { true } else { false } }
        expectReadError([]) { if case .badMagic = $0 { true } else { false } }
        // A text-mode transfer that turned \r\n into \n.
        var text = try Self.base()
        text.remove(at: 5)
        expectReadError(text) { if case .badMagic = $0 { true } else { false } }
    }

    @Test("newer major version is refused; newer minor is read")
    func versions() throws {
        var parts = try FileParts(Self.base())
        parts.major = 2
        expectReadError(try parts.assemble()) { if case .unsupportedVersion(_, 2, 0) = $0 { true } else { false } }
        parts.major = 1
        parts.minor = 7
        parts.header["added_in_1_7"] = ["something": true]
        #expect(try CNNZReader(bytes: parts.assemble(), name: "t", options: .container).minorVersion == 7)
    }

    @Test("header length past the end")
    func headerPastEnd() throws {
        var bytes = try Self.base()
        let f = bytes.count - 32
        bytes[f + 8] &+= 40
        expectReadError(CNNZLayout.resealed(bytes)) { if case .headerOutOfBounds = $0 { true } else { false } }
        // An offset beyond the file.
        var far = try Self.base()
        far[far.count - 32 + 7] = 0x40
        expectReadError(CNNZLayout.resealed(far)) { if case .headerOutOfBounds = $0 { true } else { false } }
    }

    @Test("overlapping chunks")
    func overlap() throws {
        let bytes = try Self.withFirstTensor { t in
            var c = Self.chunks(t)
            c[1]["offset"] = (c[1]["offset"] as? Int ?? 0) - 4
            t["chunks"] = c
        }
        expectReadError(bytes) { if case .overlappingChunk(let l, _, _) = $0 { l.tensor == "a" && l.chunk == 1 } else { false } }
    }

    @Test("gap between chunks")
    func gap() throws {
        var parts = try FileParts(Self.base())
        var tensors = parts.tensors
        var c = Self.chunks(tensors[0])
        let second = c[1]["offset"] as? Int ?? 0
        c[1]["offset"] = second + 3
        tensors[0]["chunks"] = c
        // Shift every later chunk too, so only the gap is wrong.
        for i in 1..<tensors.count {
            tensors[i]["chunks"] = Self.chunks(tensors[i]).map { var x = $0; x["offset"] = ($0["offset"] as? Int ?? 0) + 3; return x }
        }
        parts.tensors = tensors
        parts.data.insert(contentsOf: [0, 0, 0], at: second - 16)
        expectReadError(try parts.assemble()) { if case .gap(let l, _, _) = $0 { l.tensor == "a" && l.chunk == 1 } else { false } }
    }

    @Test("unaccounted bytes between the last chunk and the header")
    func gapBeforeHeader() throws {
        var parts = try FileParts(Self.base())
        parts.data += [0, 0]
        expectReadError(try parts.assemble()) { if case .gap(let l, _, _) = $0 { l.tensor == nil } else { false } }
    }

    @Test("trailing bytes")
    func trailing() throws {
        let bytes = try Self.base() + [0x0A]
        expectReadError(bytes) { if case .trailingBytes(_, 1) = $0 { true } else { false } }
        expectReadError(try Self.base() + Array(repeating: 0, count: 100)) { if case .trailingBytes(_, 100) = $0 { true } else { false } }
    }

    @Test("CRC mismatch in each region", arguments: [CNNZRegion.preamble, .chunk, .header, .footer])
    func crcMismatch(_ region: CNNZRegion) throws {
        var bytes = try Self.base()
        let reader = try CNNZReader(bytes: bytes, name: "t", options: .container)
        switch region {
        case .preamble: bytes[11] ^= 0x01
        case .chunk: bytes[Int(reader.tensors[1].chunks[0].offset) + 3] ^= 0x10
        case .header: bytes[Int(reader.headerOffset) + 2] ^= 0x20
        case .footer: bytes[bytes.count - 8] ^= 0x01
        }
        expectReadError(bytes) { if case .checksumMismatch(_, region, _, _) = $0 { true } else { false } }
    }

    @Test("decompressed size mismatch, short and long", arguments: [-4, 4])
    func decompressedSize(_ delta: Int) throws {
        var parts = try FileParts(Self.base())
        var tensors = parts.tensors
        let c = Self.chunks(tensors[1])
        // Replace tensor b's last chunk (its second, 32 raw bytes) with a stream of 32 + delta bytes.
        let start = (c[1]["offset"] as? Int ?? 0) - 16
        let oldStored = c[1]["stored"] as? Int ?? 0
        let stream = try CNNZCodec.deflate([UInt8](repeating: 7, count: 32 + delta), level: 6, strategy: .standard)
        parts.data.replaceSubrange(start..<(start + oldStored), with: stream)
        var chunks = c
        chunks[1]["stored"] = stream.count
        chunks[1]["crc32"] = Int(CRC32.checksum(stream))
        tensors[1]["chunks"] = chunks
        parts.tensors = tensors
        expectReadError(try parts.assemble()) { if case .decompressionFailed(let l, _) = $0 { l.tensor == "b" && l.chunk == 1 } else { false } }
    }

    @Test("element-count overflow")
    func elementOverflow() throws {
        let bytes = try Self.withFirstTensor { $0["shape"] = [1 << 40, 1 << 40] }
        expectReadError(bytes) { if case .sizeOverflow = $0 { true } else { false } }
        let negative = try Self.withFirstTensor { $0["shape"] = [-1, 2] }
        // Section 4.5: a negative extent is not an integer of the header's range, refused with the JSON path.
        expectReadError(negative) { if case let .malformedHeader(_, reason) = $0 { reason.contains("tensors[0].shape[0]") && reason.contains("-1") } else { false } }
    }

    @Test("element count above the cap")
    func elementCap() throws {
        let bytes = try Self.withFirstTensor { $0["shape"] = [1 << 20, 1 << 20] }
        expectReadError(bytes) { if case .limitExceeded(_, "element count", _, _) = $0 { true } else { false } }
    }

    @Test("rank above the cap")
    func rankCap() throws {
        let bytes = try Self.withFirstTensor { $0["shape"] = [1, 1, 1, 1, 1, 1, 1, 1, 4, 8] }
        expectReadError(bytes) { if case .limitExceeded(_, "rank", 10, 8) = $0 { true } else { false } }
    }

    @Test("duplicate tensor name")
    func duplicate() throws {
        let bytes = try Self.withFirstTensor { $0["name"] = "b" }
        expectReadError(bytes) { if case .duplicateTensor(let l) = $0 { l.tensor == "b" } else { false } }
    }

    @Test("unknown codec, dtype and role")
    func unknownNames() throws {
        expectReadError(try Self.withFirstTensor { $0["codec"] = "zstd" }) { if case .unknownCodec(_, "zstd") = $0 { true } else { false } }
        expectReadError(try Self.withFirstTensor { $0["dtype"] = "float8" }) { if case .unknownDType(_, "float8") = $0 { true } else { false } }
        expectReadError(try Self.withFirstTensor { $0["role"] = "gradient" }) { if case .unknownRole(_, "gradient") = $0 { true } else { false } }
    }

    @Test("header above the cap and too many tensors")
    func caps() throws {
        let bytes = try Self.base()
        let small = CNNZReadOptions(maxHeaderBytes: 100)
        #expect(throws: CNNZError.self) { try CNNZModel.read(bytes: bytes, name: "t", options: small) }
        do {
            _ = try CNNZModel.read(bytes: bytes, name: "t", options: CNNZReadOptions(maxTensorCount: 1))
            Issue.record("expected an error")
        } catch let error as CNNZError {
            guard case .limitExceeded(_, "tensor count", 2, 1) = error else { Issue.record("\(error)"); return }
        }
    }

    @Test("wrong number of chunks, raw chunk of the wrong size, impossible deflate ratio")
    func tableConsistency() throws {
        expectReadError(try Self.withFirstTensor { t in t["chunks"] = Array(Self.chunks(t).prefix(1)) }) { if case .invalidTensorEntry = $0 { true } else { false } }
        expectReadError(try Self.withFirstTensor(codec: .raw) { t in
            var c = Self.chunks(t)
            c[1]["stored"] = 60
            t["chunks"] = c
        }) { if case .invalidTensorEntry = $0 { true } else { false } }
        expectReadError(try Self.withFirstTensor { t in
            var c = Self.chunks(t)
            c[0]["stored"] = 0
            t["chunks"] = c
        }) { if case .invalidTensorEntry = $0 { true } else { false } }
    }

    @Test("non-zero alignment padding")
    func padding() throws {
        var bytes = try Self.base(codec: .raw)
        let reader = try CNNZReader(bytes: bytes, name: "t", options: .container)
        let info = try #require(reader.tensors.first)
        try #require(info.dataOffset > info.paddingOffset)
        bytes[Int(info.paddingOffset)] = 1
        expectReadError(bytes) { if case .nonzeroPadding = $0 { true } else { false } }
    }

    @Test("malformed JSON and missing keys")
    func malformedJSON() throws {
        let parts = try FileParts(Self.base())
        expectReadError(try parts.assemble(headerJSON: Array("{\"tensors\": [".utf8))) { if case .malformedHeader = $0 { true } else { false } }
        var missing = parts
        missing.header.removeValue(forKey: "architecture")
        expectReadError(try missing.assemble()) { if case .malformedHeader(_, let r) = $0 { r.contains("architecture") } else { false } }
        var probes = parts
        probes.header["probes"] = ["source": "x"]
        expectReadError(try probes.assemble()) { if case .malformedHeader = $0 { true } else { false } }
    }

    @Test("truncated files")
    func truncated() throws {
        let bytes = try Self.base()
        expectReadError(Array(bytes.prefix(12))) { if case .truncated = $0 { true } else { false } }
        expectReadError(Array(bytes.prefix(40))) { if case .truncated = $0 { true } else { false } }
    }

    @Test("errors name the file and place in one line")
    func messages() throws {
        let bytes = try Self.withFirstTensor { $0["dtype"] = "float8" }
        do {
            _ = try CNNZModel.read(bytes: bytes, name: "model.cnnz", options: .container)
        } catch let error as CNNZError {
            #expect(error.description.hasPrefix("model.cnnz: at byte "))
            #expect(error.description.contains("tensor a"))
            #expect(error.location?.tensor == "a")
        }
        #expect(throws: CNNZError.missingFile(path: "/nonexistent/x.cnnz", reason: "No such file or directory")) {
            try CNNZModel.read(path: "/nonexistent/x.cnnz")
        }
    }
}

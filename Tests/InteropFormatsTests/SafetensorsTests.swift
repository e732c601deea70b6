import ConvNet
import Foundation
import ModelArchive
import Testing
@testable import InteropSafetensors

/// A hand-made safetensors file: 8-byte little-endian length, the header text as given, then `data`.
private func file(_ header: String, data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    var out: [UInt8] = []
    withUnsafeBytes(of: (length ?? UInt64(h.count)).littleEndian) { out += $0 }
    return out + h + data
}

private func entry(_ name: String, _ dtype: String = "F32", _ shape: [Int], _ offsets: [Int]) -> String {
    "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":\(offsets)}"
}

@Suite("safetensors reader refusals (one per rule, hand-made bytes)")
struct SafetensorsRefusalTests {
    func parse(_ bytes: [UInt8]) throws { _ = try SafetensorsFile.parse(bytes, name: "t.safetensors") }

    @Test("shorter than the 8-byte length")
    func tooShort() {
        #expect(throws: SafetensorsError.truncated(file: "t.safetensors", offset: 0, needed: 8, available: 3)) { try parse([1, 0, 0]) }
    }

    @Test("header runs past the end of the file")
    func headerPastEnd() {
        #expect(throws: SafetensorsError.truncated(file: "t.safetensors", offset: 8, needed: 100, available: 2)) { try parse(file("{}", length: 100)) }
    }

    @Test("header length above the 100,000,000-byte cap, refused before allocating")
    func headerCap() {
        #expect(throws: SafetensorsError.headerTooLarge(file: "t.safetensors", length: 100_000_001, limit: 100_000_000)) {
            try parse(file("{}", length: 100_000_001))
        }
        #expect(throws: SafetensorsError.headerTooLarge(file: "t.safetensors", length: UInt64.max, limit: 100_000_000)) {
            try parse(file("{}", length: UInt64.max))
        }
    }

    @Test("header that is not JSON, not UTF-8, or not an object of tensor entries", arguments: [
        Array("{\"a\":".utf8), Array("[1,2]".utf8), [0x7B, 0xFF, 0xFE, 0x7D], Array("{\"a\":{\"dtype\":\"F32\"}}".utf8),
        Array("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}".utf8),
        Array("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}".utf8),
        Array("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}".utf8),
        Array("{\"__metadata__\":{\"k\":1}}".utf8),
    ])
    func malformed(header: [UInt8]) {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes += $0 }
        bytes += header + [0, 0, 0, 0]
        #expect { try parse(bytes) } throws: { error in
            guard case .malformedHeader(let f, let offset, _) = error as? SafetensorsError else { return false }
            return f == "t.safetensors" && offset == 8
        }
    }

    @Test("negative extent and a shape whose byte count overflows")
    func badShapes() {
        #expect(throws: SafetensorsError.self) { try parse(file("{" + entry("a", "F32", [-1], [0, 4]) + "}", data: [0, 0, 0, 0])) }
        #expect { try parse(file("{" + entry("a", "F32", [1 << 62, 8], [0, 4]) + "}", data: [0, 0, 0, 0])) } throws: { error in
            if case .sizeMismatch(_, "a", _, _, UInt64.max, 4) = error as? SafetensorsError { return true }
            if case .malformedHeader = error as? SafetensorsError { return true }
            return false
        }
    }

    @Test("overlapping data_offsets")
    func overlap() {
        let bytes = file("{" + entry("a", "F32", [2], [0, 8]) + "," + entry("b", "F32", [2], [4, 12]) + "}", data: [UInt8](repeating: 0, count: 12))
        #expect(throws: SafetensorsError.badOffsets(file: "t.safetensors", tensor: "b", expectedStart: 8, found: [4, 12])) { try parse(bytes) }
        #expect(SafetensorsError.badOffsets(file: "f", tensor: "b", expectedStart: 8, found: [4, 12]).description.contains("overlap"))
    }

    @Test("a gap between tensors, and a first tensor not at 0")
    func gap() {
        let bytes = file("{" + entry("a", "F32", [1], [0, 4]) + "," + entry("b", "F32", [1], [8, 12]) + "}", data: [UInt8](repeating: 0, count: 12))
        #expect(throws: SafetensorsError.badOffsets(file: "t.safetensors", tensor: "b", expectedStart: 4, found: [8, 12])) { try parse(bytes) }
        #expect(SafetensorsError.badOffsets(file: "f", tensor: "b", expectedStart: 4, found: [8, 12]).description.contains("gap"))
        let late = file("{" + entry("a", "F32", [1], [4, 8]) + "}", data: [UInt8](repeating: 0, count: 8))
        #expect(throws: SafetensorsError.badOffsets(file: "t.safetensors", tensor: "a", expectedStart: 0, found: [4, 8])) { try parse(late) }
    }

    @Test("end before begin")
    func reversed() {
        let bytes = file("{" + entry("a", "F32", [0], [0, 0]) + "," + entry("b", "F32", [1], [0, 4]) + "," + entry("c", "F32", [1], [4, 0]) + "}",
                         data: [UInt8](repeating: 0, count: 4))
        #expect(throws: SafetensorsError.self) { try parse(bytes) }
    }

    @Test("trailing bytes after the last tensor")
    func trailing() {
        let header = "{" + entry("a", "F32", [1], [0, 4]) + "}"
        let bytes = file(header, data: [UInt8](repeating: 0, count: 9))
        #expect(throws: SafetensorsError.dataNotCovered(file: "t.safetensors", offset: 8 + header.utf8.count + 4, coveredBytes: 4, dataBytes: 9)) { try parse(bytes) }
    }

    @Test("a tensor that runs past the end of the file")
    func pastEnd() {
        let header = "{" + entry("a", "F32", [4], [0, 16]) + "}"
        let bytes = file(header, data: [UInt8](repeating: 0, count: 8))
        #expect(throws: SafetensorsError.dataNotCovered(file: "t.safetensors", offset: 8 + header.utf8.count, coveredBytes: 16, dataBytes: 8)) { try parse(bytes) }
    }

    @Test("a byte range that does not hold the shape")
    func sizeMismatch() {
        let bytes = file("{" + entry("a", "F32", [3], [0, 8]) + "}", data: [UInt8](repeating: 0, count: 8))
        #expect(throws: SafetensorsError.sizeMismatch(file: "t.safetensors", tensor: "a", dtype: "F32", shape: [3], expectedBytes: 12, foundBytes: 8)) { try parse(bytes) }
    }

    @Test("dtypes CNNKit does not decode, known and unknown", arguments: ["F8_E4M3", "C64", "F4", "f32", "X"])
    func badDType(dtype: String) {
        let bytes = file("{" + entry("a", dtype, [1], [0, 4]) + "}", data: [0, 0, 0, 0])
        #expect(throws: SafetensorsError.unsupportedDType(file: "t.safetensors", tensor: "a", dtype: dtype)) { try parse(bytes) }
    }
}

@Suite("safetensors reading and writing")
struct SafetensorsFormatTests {
    @Test("the reference implementation's doc example parses; whitespace padding either side is allowed")
    func referenceExample() throws {
        let header = "{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}"
        let parsed = try SafetensorsFile.parse(file(header, data: [1, 0, 0, 0, 2, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]), name: "x")
        #expect(parsed.tensors == [SafetensorsTensor(name: "test", dtype: .i32, shape: [2, 2], values: [1, 2, -1, 0])])
        #expect(parsed.metadata == nil)
        #expect(try SafetensorsFile.parse(file("  \n" + header + "    ", data: [UInt8](repeating: 0, count: 16)), name: "x").tensors.count == 1)
    }

    @Test("every dtype decodes to float32", arguments: [
        ("F64", [0, 0, 0, 0, 0, 0, 0xF8, 0x3F], Float(1.5)), ("F16", [0x00, 0x3E], Float(1.5)), ("BF16", [0xC0, 0x3F], Float(1.5)),
        ("I64", [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], Float(-2)), ("I16", [0xFE, 0xFF], Float(-2)), ("U16", [0xFE, 0xFF], Float(65534)),
        ("I8", [0xFE], Float(-2)), ("U8", [0xFE], Float(254)), ("BOOL", [1], Float(1)), ("U32", [0, 0, 0, 0x80], Float(2_147_483_648)),
        ("F16", [0x01, 0x00], Float(bitPattern: 0x3380_0000)),
    ] as [(String, [UInt8], Float)])
    func dtypes(dtype: String, bytes: [UInt8], value: Float) throws {
        let parsed = try SafetensorsFile.parse(file("{" + entry("a", dtype, [1], [0, bytes.count]) + "}", data: bytes), name: "x")
        #expect(parsed.tensors.first?.values == [value])
    }

    @Test("written bytes are what the Python package writes: sorted names, __metadata__ first, padded to 8")
    func exactBytes() throws {
        let f = SafetensorsFile(metadata: ["k": "v\"\n"], tensors: [
            SafetensorsTensor(name: "b", shape: [1], values: [1]), SafetensorsTensor(name: "a", shape: [2], values: [-0.0, .infinity]),
        ])
        let bytes = try f.encoded()
        let header = "{\"__metadata__\":{\"k\":\"v\\\"\\n\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}"
        let padded = header + String(repeating: " ", count: (8 - header.utf8.count % 8) % 8)
        #expect(bytes == file(padded, data: [0, 0, 0, 0x80, 0, 0, 0x80, 0x7F, 0, 0, 0x80, 0x3F]))
        #expect(try SafetensorsFile.parse(bytes, name: "x").metadata == ["k": "v\"\n"])
    }

    @Test("documents round-trip bitwise (NaN payloads, -0, subnormals, state, probes, metadata)", arguments: 0..<24)
    func roundTrip(seed: Int) throws {
        let document = try TestSupport.document(seed: UInt64(seed), minimal: seed % 5 == 0)
        let bytes = try SafetensorsModel.encode(document)
        #expect(try SafetensorsModel.read(bytes: bytes, name: "x") == document)
        #expect(try SafetensorsModel.encode(document) == bytes)
    }

    @Test("write is atomic and reads back from disk")
    func writeAndRead() throws {
        let folder = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let document = try TestSupport.document(seed: 99)
        let path = folder.appendingPathComponent("m.safetensors").path
        try SafetensorsModel.write(document, to: path)
        #expect(try SafetensorsModel.read(path: path) == document)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["m.safetensors"])
        #expect(throws: SafetensorsError.missingFile(path: folder.appendingPathComponent("none").path, reason: "no such file")) {
            try SafetensorsModel.read(path: folder.appendingPathComponent("none").path)
        }
    }

    @Test("a plain file needs an architecture; with one, every tensor must match it")
    func plainFiles() throws {
        let document = try TestSupport.document(seed: 5, minimal: true)
        let plain = SafetensorsFile(tensors: document.tensors.map { SafetensorsTensor(name: $0.name, shape: $0.tensor.shape, values: $0.tensor.scalars) })
        let bytes = try plain.encoded()
        #expect(throws: SafetensorsError.missingArchitecture(file: "p")) { try SafetensorsModel.read(bytes: bytes, name: "p") }
        #expect(try SafetensorsModel.read(bytes: bytes, name: "p", architecture: document.architecture) == document)

        var extra = plain
        extra.tensors.append(SafetensorsTensor(name: "dense_9.kernel", shape: [1], values: [0]))
        #expect(throws: SafetensorsError.document(file: "p", tensor: "dense_9.kernel", reason: "is not a parameter of the architecture, an optimizer slot or a probe tensor")) {
            try SafetensorsModel.read(bytes: try extra.encoded(), name: "p", architecture: document.architecture)
        }
        var missing = plain
        let dropped = missing.tensors.removeFirst()
        #expect(throws: SafetensorsError.document(file: "p", tensor: dropped.name, reason: "missing (expected shape \(dropped.shape))")) {
            try SafetensorsModel.read(bytes: try missing.encoded(), name: "p", architecture: document.architecture)
        }
        var reshaped = plain
        reshaped.tensors[0].shape = [dropped.values.count]
        #expect(throws: SafetensorsError.document(file: "p", tensor: dropped.name, reason: "expected shape \(dropped.shape), found \([dropped.values.count])")) {
            try SafetensorsModel.read(bytes: try reshaped.encoded(), name: "p", architecture: document.architecture)
        }
    }

    @Test("writing refuses reserved metadata keys and tensors that do not match the architecture")
    func writeRefusals() throws {
        var document = try TestSupport.document(seed: 3)
        document.metadata[SafetensorsLayout.architectureKey] = "{}"
        #expect(throws: SafetensorsError.invalidWrite(reason: "metadata key 'cnnkit.architecture' is reserved for CNNKit's own data")) {
            try SafetensorsModel.encode(document)
        }
        var short = try TestSupport.document(seed: 3)
        short.tensors.removeLast()
        #expect(throws: SafetensorsError.self) { try SafetensorsModel.encode(short) }
    }

    @Test("the Python-made fixtures read with the tiny architecture and hold the expected values", arguments: [
        "tiny_plain", "tiny_mixed_dtypes", "tiny_with_metadata",
    ])
    func fixtures(name: String) throws {
        let path = TestSupport.safetensorsFixtures.appendingPathComponent("\(name).safetensors").path
        let architecture = try TestSupport.tinyArchitecture()
        let document = try SafetensorsModel.read(path: path, architecture: name == "tiny_with_metadata" ? nil : architecture)
        #expect(document.architecture == architecture)
        let expected = try TestSupport.TinyExpectation.load()
        for t in document.tensors {
            let e = try #require(expected.tensors[t.name])
            #expect(t.tensor == Tensor(shape: e.shape, scalars: e.values), "\(t.name)")
        }
        if name == "tiny_with_metadata" { #expect(document.metadata == ["note": "made by make_fixtures.py"]) }
    }
}

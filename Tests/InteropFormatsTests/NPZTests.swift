import ConvNet
import Foundation
import ModelArchive
import Testing
@testable import InteropNumPy

/// A hand-made `.npy`: magic, the version, the header text padded to 64 bytes, then `data`.
private func npy(_ header: String, data: [UInt8], major: UInt8 = 1) -> [UInt8] {
    var text = header
    let prefix = major == 1 ? 10 : 12
    text += String(repeating: " ", count: (64 - (prefix + text.utf8.count + 1) % 64) % 64) + "\n"
    let n = text.utf8.count
    var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, major, 0]
    out += major == 1 ? [UInt8(n & 0xFF), UInt8(n >> 8)] : [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), 0, 0]
    return out + Array(text.utf8) + data
}

private func littleEndian(_ values: [Float]) -> [UInt8] { values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } } }

/// A hand-made npz of the given members.
private func npz(_ members: [(String, [UInt8])], compress: Bool = false) throws -> [UInt8] {
    try NPZArchive(members: members.map { (name: $0.0, bytes: $0.1) }).encoded(compress: compress)
}

@Suite("npz reader refusals (hand-made bytes)")
struct NPZRefusalTests {
    func read(_ bytes: [UInt8], architecture: Architecture? = nil) throws -> ModelDocument {
        try NPZModel.read(bytes: bytes, name: "t.npz", architecture: architecture)
    }

    @Test("not a zip")
    func notZip() {
        #expect { try read(Array("PK\u{3}\u{4} but not really a zip".utf8)) } throws: { error in
            if case .notAZip(file: "t.npz", _) = error as? NumPyError { return true }
            return false
        }
    }

    @Test("a bad .npy header: wrong magic, unknown version, no descr, header past the end", arguments: [
        Array("NOTNUMPY".utf8) + [UInt8](repeating: 0, count: 8),
        [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 4, 0, 10, 0] + Array("{}        ".utf8),
        npy("{'fortran_order': False, 'shape': (1,), }", data: [0, 0, 0, 0]),
        [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, 0xFF, 0x00] + Array("{'descr': '<f4'".utf8),
        npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", data: [0, 0, 0, 0]),
        npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", data: [0, 0, 0, 0]),
    ])
    func badHeader(member: [UInt8]) throws {
        let bytes = try npz([("a.npy", member)])
        #expect { try read(bytes) } throws: { error in
            if case .badArray(file: "t.npz", member: "a.npy", _, _) = error as? NumPyError { return true }
            return false
        }
    }

    @Test("a version 2 or 3 .npy member that ends inside its 4-byte header length is refused, not a crash", arguments: [10, 11])
    func cutHeaderLength(length: Int) throws {
        for version: UInt8 in [2, 3] {
            let member: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, version, 0] + [UInt8](repeating: 0x10, count: length - 8)
            #expect { try read(try npz([("a.npy", member)])) } throws: { error in
                guard case let .badArray(file: "t.npz", member: "a.npy", _, reason) = error as? NumPyError else { return false }
                return reason.contains("header length")
            }
        }
    }

    @Test("object dtype |O is refused by name")
    func objectDType() throws {
        let bytes = try npz([("a.npy", npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", data: [UInt8](repeating: 0, count: 16)))])
        #expect { try read(bytes) } throws: { error in
            guard case let .badArray(_, _, _, reason) = error as? NumPyError else { return false }
            return reason.contains("'|O'")
        }
    }

    @Test("a shape larger than the data, and larger than any allocation", arguments: ["(3,)", "(1000000, 1000000, 1000000)", "(4611686018427387904, 4)"])
    func shapeTooLarge(shape: String) throws {
        let bytes = try npz([("a.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }", data: littleEndian([1, 2])))])
        #expect { try read(bytes) } throws: { error in
            if case .badArray(file: "t.npz", member: "a.npy", _, _) = error as? NumPyError { return true }
            return false
        }
    }

    @Test("a member that is not .npy, and an archive with no architecture")
    func members() throws {
        #expect(throws: NumPyError.badMember(file: "t.npz", member: "notes.txt", reason: "is not a .npy array (npz members are named <key>.npy)")) {
            try read(try npz([("notes.txt", Array("hello".utf8))]))
        }
        #expect(throws: NumPyError.missingArchitecture(file: "t.npz")) {
            try read(try npz([("x.npy", NumPyArray(shape: [1], values: [1]).encoded())]))
        }
    }

    @Test("a damaged member fails its CRC-32")
    func crc() throws {
        var bytes = try npz([("a.npy", NumPyArray(shape: [4], values: [1, 2, 3, 4]).encoded())])
        // Stored member: find its .npy magic and flip a byte of the last value.
        let member = NumPyArray(shape: [4], values: [1, 2, 3, 4]).encoded()
        let start = try #require((0..<bytes.count).first { bytes[$0...].starts(with: member.prefix(8)) })
        bytes[start + member.count - 1] ^= 0x01
        #expect { try read(bytes) } throws: { error in
            if case .corruptMember(file: "t.npz", member: "a.npy", _) = error as? NumPyError { return true }
            return false
        }
    }

    @Test("a local file header that disagrees with the central directory: name, method, CRC-32, sizes, signature", arguments: [
        (30, "names 'A.npy'"), (8, "compression method"), (14, "CRC-32"), (18, "stored bytes"), (22, "bytes, the central directory"),
        (0, "no local header signature"),
    ])
    func localHeader(offset: Int, reason: String) throws {
        // The second member's local header; numpy's zipfile goes by it, ZIPFoundation by the directory.
        var bytes = try npz([("b.npy", NumPyArray(shape: [1], values: [2]).encoded()), ("a.npy", NumPyArray(shape: [2], values: [1, 2]).encoded())])
        let header = try #require((1..<bytes.count).first { bytes[$0...].starts(with: [0x50, 0x4B, 0x03, 0x04] as [UInt8]) })
        bytes[header + offset] ^= 0x20
        #expect { try read(bytes) } throws: { error in
            guard case let .corruptMember(file: "t.npz", member: "a.npy", reason: text) = error as? NumPyError else { return false }
            return text.contains("local file header at byte \(header)") && text.contains(reason)
        }
    }

    @Test("a metadata member that is not CNNKit's JSON")
    func badMetadata() throws {
        let bytes = try npz([("__cnnkit__.npy", NumPyArray.encodedText("{\"format_version\": 1}"))])
        #expect { try read(bytes) } throws: { error in
            if case .document(file: "t.npz", member: "__cnnkit__.npy", _) = error as? NumPyError { return true }
            return false
        }
    }
}

@Suite("npz reading and writing")
struct NPZFormatTests {
    @Test("documents round-trip bitwise, stored and deflated", arguments: 0..<16)
    func roundTrip(seed: Int) throws {
        let document = try TestSupport.document(seed: UInt64(seed), minimal: seed % 5 == 0)
        for compress in [false, true] {
            let bytes = try NPZModel.encode(document, compress: compress)
            #expect(try NPZModel.read(bytes: bytes, name: "x") == document)
            #expect(try NPZModel.encode(document, compress: compress) == bytes)
        }
    }

    @Test("write is atomic and reads back from disk")
    func writeAndRead() throws {
        let folder = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let document = try TestSupport.document(seed: 4)
        let path = folder.appendingPathComponent("m.npz").path
        try NPZModel.write(document, to: path, compress: true)
        #expect(try NPZModel.read(path: path) == document)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["m.npz"])
        #expect(NPZFileFormat().recognizes(prefix: Array(try Data(contentsOf: URL(fileURLWithPath: path)).prefix(4096))))
    }

    @Test(".npy: Fortran order, big-endian float64, versions 2 and 3")
    func npyVariants() throws {
        // [[1, 2, 3], [4, 5, 6]] in Fortran order is 1, 4, 2, 5, 3, 6.
        let fortran = npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data: littleEndian([1, 4, 2, 5, 3, 6]))
        #expect(try NumPyArray.parse(fortran, path: "f").values == [1, 2, 3, 4, 5, 6])
        let cube = (0..<24).map(Float.init)
        var fortranCube = [Float](repeating: 0, count: 24)
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { fortranCube[i + 2 * (j + 3 * k)] = cube[(i * 3 + j) * 4 + k] } } }
        #expect(try NumPyArray.parse(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3, 4), }", data: littleEndian(fortranCube)), path: "f").values == cube)
        let be: [UInt8] = [0x3F, 0xF8, 0, 0, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0]
        for major: UInt8 in [1, 2, 3] {
            let parsed = try NumPyArray.parse(npy("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", data: be, major: major), path: "b")
            #expect(parsed.values == [1.5, -2])
        }
        #expect(try NumPyArray.parseText(NumPyArray.encodedText("ünï ✓ {}"), path: "t") == "ünï ✓ {}")
    }

    @Test("the seed's layout maps to the seed architecture: kernel[ky, kx, 0, k] = filters[k, ky, kx]; last_* ignored")
    func seedLayout() throws {
        let n = 3
        let filters = (0..<(n * 9)).map { Float($0) }
        let weights = (0..<(13 * 13 * n * 10)).map { Float($0 % 7) }
        let bytes = try npz([
            ("filters.npy", NumPyArray(shape: [n, 3, 3], values: filters).encoded()),
            ("weights.npy", NumPyArray(shape: [13 * 13 * n, 10], values: weights).encoded()),
            ("biases.npy", NumPyArray(shape: [10], values: (0..<10).map(Float.init)).encoded()),
            ("last_totals.npy", NumPyArray(shape: [10], values: [Float](repeating: 0, count: 10)).encoded()),
        ])
        let document = try NPZModel.read(bytes: bytes, name: "seed.npz")
        var expected = Architecture.seed
        expected.layers[0].kind = .conv2d(Conv2DSpec(filters: n))
        #expect(document.architecture == expected)
        let kernel = document.tensors[0].tensor
        #expect(kernel.shape == [3, 3, 1, n])
        for k in 0..<n { for ky in 0..<3 { for kx in 0..<3 { #expect(kernel.scalars[(ky * 3 + kx) * n + k] == filters[(k * 3 + ky) * 3 + kx]) } } }
        #expect(document.tensors.map(\.name) == ["conv2d.kernel", "dense.kernel", "dense.bias"])
        _ = try document.network()
    }

    @Test("seed layout refusals: a non-square pooled size, a given architecture of other shapes")
    func seedRefusals() throws {
        let bytes = try npz([
            ("filters.npy", NumPyArray(shape: [2, 3, 3], values: [Float](repeating: 0, count: 18)).encoded()),
            ("weights.npy", NumPyArray(shape: [6, 10], values: [Float](repeating: 0, count: 60)).encoded()),
            ("biases.npy", NumPyArray(shape: [10], values: [Float](repeating: 0, count: 10)).encoded()),
        ])
        #expect { try NPZModel.read(bytes: bytes, name: "s.npz") } throws: { error in
            guard case let .document(_, member, reason) = error as? NumPyError else { return false }
            return member == "weights.npy" && reason.contains("--architecture")
        }
        #expect(throws: NumPyError.self) { try NPZModel.read(bytes: bytes, name: "s.npz", architecture: .seed) }
    }

    @Test("NumPy-made fixtures read with the tiny architecture and hold the expected values", arguments: [
        "tiny_savez", "tiny_variants", "tiny_npy_versions",
    ])
    func fixtures(name: String) throws {
        let architecture = try TestSupport.tinyArchitecture()
        let document = try NPZModel.read(path: TestSupport.npzFixtures.appendingPathComponent("\(name).npz").path, architecture: architecture)
        let expected = try TestSupport.TinyExpectation.load()
        #expect(document.tensors.count == expected.tensors.count)
        for t in document.tensors {
            let e = try #require(expected.tensors[t.name])
            #expect(t.tensor == Tensor(shape: e.shape, scalars: e.values), "\(t.name)")
        }
    }

    @Test("the seed-layout fixture reads as the seed architecture with 2 filters")
    func seedFixture() throws {
        let document = try NPZModel.read(path: TestSupport.npzFixtures.appendingPathComponent("seed_layout.npz").path)
        #expect(document.architecture.input == ActivationShape(height: 28, width: 28, channels: 1))
        #expect(document.tensors.map(\.tensor.shape) == [[3, 3, 1, 2], [338, 10], [10]])
    }
}

import ConvNet
import Foundation
import ModelArchive
import Testing
@testable @_spi(Fuzzing) import CNNZFormat

/// The fixtures in `Fixtures/cnnz` and the fuzz seed corpus, made by this file.
///
/// Run with `CNNZ_WRITE_FIXTURES=1` to (re)write them; otherwise the tests check that the writer still produces
/// the committed bytes exactly (determinism across runs and builds) and that every corruption of them is caught.
enum Fixtures {
    /// The smallest useful file: the worked example of `Schemas/cnnz.md` section 8.
    static func minimalDocument() -> ModelDocument {
        let arch = Architecture(input: ActivationShape(height: 1, width: 1, channels: 2), preprocessing: Preprocessing(scale: 1, offset: 0),
                                kinds: [.flatten, .dense(DenseSpec(units: 1, bias: false))])
        return ModelDocument(architecture: arch, tensors: [NamedTensor(name: "dense.kernel", tensor: Tensor(shape: [2, 1], scalars: [1.5, -0.25]))])
    }

    /// name -> (document, options) of every fixture file.
    static let files: [(String, ModelDocument, CNNZWriteOptions)] = [
        ("minimal.cnnz", minimalDocument(), CNNZWriteOptions(codec: .raw)),
        ("tiny.cnnz", tinyDocument(), CNNZWriteOptions(codec: .shuffleDeflate)),
        ("tiny-raw.cnnz", tinyDocument(), CNNZWriteOptions(codec: .raw)),
        ("tiny-deflate-float16.cnnz", tinyDocument(lossy: .float16), CNNZWriteOptions(codec: .deflate, dtype: .float16)),
        ("tiny-bfloat16-chunks16.cnnz", tinyDocument(lossy: .bfloat16), CNNZWriteOptions(codec: .shuffleDeflate, dtype: .bfloat16, chunkSize: 16)),
        // CNNZ 1.1: the default codec.
        ("tiny-zstd.cnnz", tinyDocument(), CNNZWriteOptions()),
        ("tiny-zstd-bfloat16-chunks16.cnnz", tinyDocument(lossy: .bfloat16), CNNZWriteOptions(dtype: .bfloat16, chunkSize: 16)),
    ] + matrix + largeChunks

    /// `chunks/CODEC-DTYPE.cnnz`: a model whose kernel spans several chunks of the default 1 MiB (the last one partly
    /// filled), in codecs and dtypes the matrix covers only with 64-byte chunks: plain `deflate` with float64
    /// and `shuffle-zstd` with int64, 2 chunks each.
    static let largeChunks: [(String, ModelDocument, CNNZWriteOptions)] = [
        ("chunks/deflate-float64.cnnz", largeDocument(.float64), CNNZWriteOptions(codec: .deflate, dtype: .float64)),
        ("chunks/shuffle-zstd-int64.cnnz", largeDocument(.int64), CNNZWriteOptions(codec: .shuffleZstd, dtype: .int64)),
    ]

    /// The architecture of the `chunks/` files: `flatten -> dense(200, no bias)` on a 28x28x1 input, whose kernel
    /// `[784, 200]` holds 156,800 values (1,254,400 bytes as float64 or int64).
    static let largeArchitecture = Architecture(input: ActivationShape(height: 28, width: 28, channels: 1), preprocessing: Preprocessing(scale: 1, offset: 0),
                                                kinds: [.flatten, .dense(DenseSpec(units: 200, bias: false))])

    static func largeDocument(_ dtype: CNNZDType) -> ModelDocument {
        ModelDocument(architecture: largeArchitecture, tensors: [
            NamedTensor(name: "dense.kernel", tensor: Tensor(shape: [784, 200], scalars: (0..<156_800).map { matrixValue($0, dtype: dtype) })),
        ])
    }

    /// `matrix/CODEC-DTYPE.cnnz`: every codec with every dtype, read by the independent Python reader
    /// (`Tests/Interop/test_cnnz.py`), which recomputes the values from ``matrixValue(_:dtype:)``.
    static let matrix: [(String, ModelDocument, CNNZWriteOptions)] = CNNZCodec.allCases.flatMap { codec in
        CNNZDType.allCases.map { dtype in
            ("matrix/\(codec.rawValue)-\(dtype.rawValue).cnnz", matrixDocument(dtype), CNNZWriteOptions(codec: codec, dtype: dtype, chunkSize: 64))
        }
    }

    /// Element `i` of the matrix tensor: whole numbers 0-199 for the integer dtypes, quarters in -15...15 (exact
    /// in every float dtype, bfloat16 included) for the others.
    static func matrixValue(_ i: Int, dtype: CNNZDType) -> Float {
        dtype.isInteger ? Float((i * 37) % 200) : Float((i * 37) % 121 - 60) / 4
    }

    /// The architecture of the matrix files: `flatten -> dense(37, no bias)` on a 1x1x5 input, whose one
    /// parameter is `dense.kernel` of shape [5, 37].
    static let matrixArchitecture = Architecture(input: ActivationShape(height: 1, width: 1, channels: 5), preprocessing: Preprocessing(scale: 1, offset: 0),
                                                 kinds: [.flatten, .dense(DenseSpec(units: 37, bias: false))])

    /// One tensor `dense.kernel` of shape [5, 37] (several 64-byte chunks, the last partly filled).
    static func matrixDocument(_ dtype: CNNZDType) -> ModelDocument {
        ModelDocument(architecture: matrixArchitecture, tensors: [
            NamedTensor(name: "dense.kernel", tensor: Tensor(shape: [5, 37], scalars: (0..<185).map { matrixValue($0, dtype: dtype) })),
        ])
    }

    /// Broken seeds for the fuzz corpus, each derived from tiny.cnnz.
    /// Seeds from the 1.1 fixture: the first zstd chunk's frame content size flipped, once with its CRC left old
    /// and once with its CRC kept right, so that the fuzzer starts inside the zstd decoder.
    static func brokenZstdSeeds(_ tiny: [UInt8]) -> [(String, [UInt8])] {
        var flipped = tiny
        // The chunk starts at 16: magic (4 bytes), frame header descriptor, then the 1-byte content size.
        flipped[16 + 5] ^= 0x10
        var resealed = flipped
        if let reader = try? CNNZReader(bytes: tiny, name: "seed"), let chunk = reader.tensors.first?.chunks.first,
           var parts = try? FileParts(flipped) {
            parts.minor = 1
            var tensors = parts.tensors
            var chunks = tensors[0]["chunks"] as? [[String: Any]] ?? []
            let stored = Array(flipped[Int(chunk.offset)..<Int(chunk.offset + chunk.storedBytes)])
            chunks[0]["crc32"] = Int(CRC32.checksum(stored))
            tensors[0]["chunks"] = chunks
            parts.tensors = tensors
            resealed = (try? parts.assemble()) ?? flipped
        }
        return [("broken-zstd-flipped.cnnz", flipped), ("broken-zstd-frame.cnnz", resealed)]
    }

    static func brokenSeeds(_ tiny: [UInt8]) -> [(String, [UInt8])] {
        var flipped = tiny
        flipped[tiny.count / 2] ^= 0x40
        var version = tiny
        version[9] = 2
        return [
            ("broken-truncated.cnnz", Array(tiny.prefix(tiny.count - 7))),
            ("broken-flipped.cnnz", flipped),
            ("broken-version.cnnz", CNNZLayout.resealed(version)),
            ("broken-trailing.cnnz", tiny + [0, 0, 0, 0]),
            ("broken-empty-header.cnnz", CNNZLayout.preamble(minor: 0) + CNNZLayout.footer(headerOffset: 16, headerLength: 0, headerCRC: 0)),
        ]
    }
}

@Suite("CNNZ fixtures and corruption")
struct FixtureTests {
    static var writing: Bool { ProcessInfo.processInfo.environment["CNNZ_WRITE_FIXTURES"] == "1" }

    @Test("fixtures are the writer's current bytes and read back", arguments: Fixtures.files.map(\.0))
    func fixture(_ name: String) throws {
        let (_, document, options) = try #require(Fixtures.files.first { $0.0 == name })
        let bytes = try CNNZModel.encode(document, options: options)
        let path = fixturesFolder + "/" + name
        if Self.writing {
            try FileManager.default.createDirectory(atPath: fixturesFolder + "/corpus", withIntermediateDirectories: true)
            try CNNZModel.write(document, to: path, options: options)
            try FileManager.default.createDirectory(atPath: fixturesFolder + "/matrix", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: fixturesFolder + "/chunks", withIntermediateDirectories: true)
            try CNNZModel.write(document, to: path, options: options)
            if !name.contains("/") { try CNNZModel.write(document, to: fixturesFolder + "/corpus/" + name, options: options) }
            let seeds = name == "tiny.cnnz" ? Fixtures.brokenSeeds(bytes) : name == "tiny-zstd.cnnz" ? Fixtures.brokenZstdSeeds(bytes) : []
            for (seed, seedBytes) in seeds {
                try Data(seedBytes).write(to: URL(fileURLWithPath: fixturesFolder + "/corpus/" + seed))
            }
        }
        let stored = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(stored == bytes, "\(name) differs from what the writer produces now")
        let back = try CNNZModel.read(path: path)
        #expect(back.tensors.map(\.name) == document.tensors.map(\.name))
        if !options.dtype.isLossyForFloat32 { #expect(back == document) }
        // The probes are the model's own outputs, so `cnnkit verify` passes on every fixture.
        if !options.dtype.isLossyForFloat32, let probes = back.probes {
            let outputs = try back.network().predict(.floats(probes.inputs.scalars))
            #expect(outputs.map(\.bitPattern) == probes.outputs.scalars.map(\.bitPattern), "\(name): probe outputs are not the network's")
        }
    }

    @Test("every single-byte change and every truncation is reported as corruption", arguments: ["minimal.cnnz", "tiny.cnnz", "tiny-raw.cnnz", "tiny-zstd.cnnz"])
    func everyFlipAndTruncation(_ name: String) throws {
        let (_, document, options) = try #require(Fixtures.files.first { $0.0 == name })
        let bytes = try CNNZModel.encode(document, options: options)
        for i in bytes.indices {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var broken = bytes
                broken[i] ^= mask
                expectCorrupt(broken, "byte \(i) ^ \(mask)")
            }
        }
        for n in 0..<bytes.count {
            expectCorrupt(Array(bytes.prefix(n)), "truncated to \(n)")
        }
    }

    private func expectCorrupt(_ bytes: [UInt8], _ what: String) {
        do {
            _ = try CNNZModel.read(bytes: bytes, name: "f")
            Issue.record("\(what): not detected")
        } catch let error as CNNZError {
            if error.category != .invalidInput { Issue.record("\(what): \(error)") }
        } catch {
            Issue.record("\(what): not a CNNZError: \(error)")
        }
    }

    @Test("the corpus replays through the reader without surprises")
    func corpus() throws {
        let folder = fixturesFolder + "/corpus"
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(names.count >= 8)
        for name in names {
            let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: folder + "/" + name)))
            do {
                _ = try CNNZModel.read(bytes: bytes, name: name)
                #expect(!name.hasPrefix("broken-"), "\(name) should not read")
            } catch let error as CNNZError {
                #expect(name.hasPrefix("broken-"), "\(name): \(error)")
            }
        }
    }
}

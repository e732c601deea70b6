import ConvNet
import Foundation
import ModelArchive
import Testing
@testable import CNNZFormat

/// Zero-copy loading (`Schemas/cnnz.md` section 9): a file opened with `mapFile` is mapped read-only and its
/// raw float32 tensors are views into the mapping, checked up front or on first use.
@Suite("CNNZ mapped reading and tensor views")
struct MappedReaderTests {
    /// The seed architecture with seeded parameters plus a multi-chunk extra tensor, written to a new file.
    static func writeModel(codec: CNNZCodec, in folder: String) throws -> (path: String, document: ModelDocument) {
        var network = try Network(architecture: .seed)
        var rng = RandomGenerator(seed: 5)
        network.initialize(using: &rng)
        let document = ModelDocument(network: network)
        let path = folder + "/m-\(codec.rawValue).cnnz"
        try CNNZModel.write(document, to: path, options: CNNZWriteOptions(codec: codec, chunkSize: 4096))
        return (path, document)
    }

    @Test("views of a mapped raw file borrow the mapping and equal what a copying read gives", arguments: CNNZCodec.allCases)
    func viewsEqualReads(_ codec: CNNZCodec) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (path, document) = try Self.writeModel(codec: codec, in: folder)
        let copying = try CNNZReader(path: path)
        var views: [TensorView] = []
        do {
            let mapped = try CNNZReader(path: path, options: CNNZReadOptions(mapFile: true))
            for i in mapped.tensors.indices {
                let view = try mapped.view(at: i)
                #expect(view.isBorrowed == (codec == .raw), "\(mapped.tensors[i].name)")
                #expect(view.tensor() == (try copying.readTensor(at: i)))
                #expect(try mapped.readTensor(at: i) == (try copying.readTensor(at: i)))
                views.append(view)
            }
        }
        // The reader is gone; the views keep the mapping alive.
        for (view, named) in zip(views, document.tensors) { #expect(view.tensor() == named.tensor) }
    }

    @Test("a prediction from mapped views equals the network's own, bit for bit, without copying the weights")
    func predictFromViews() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (path, document) = try Self.writeModel(codec: .raw, in: folder)
        let reader = try CNNZTensorReader(path: path, options: CNNZReadOptions(mapFile: true))
        var rng = RandomGenerator(seed: 9)
        let inputs = (0..<(5 * 784)).map { _ in Float(rng.next(below: 256)) }
        let expected = try document.network().predict(.floats(inputs))
        let found = try Network.predict(architecture: reader.architecture, inputs: inputs, batchSize: 2, threads: 3) { spec in
            let view = try reader.view(named: spec.name)
            #expect(view.isBorrowed)
            return view
        }
        #expect(found.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    /// The file at `path` with one byte of chunk `k` of tensor `t` flipped.
    static func corrupt(_ path: String, tensor t: Int, chunk k: Int) throws -> CNNZChunkInfo {
        let chunk = try CNNZReader(path: path).tensors[t].chunks[k]
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[Int(chunk.offset) + 5] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return chunk
    }

    @Test("a damaged chunk is refused when a mapped file is opened, or with lazy checksums on the tensor's first view only")
    func lazyChecksums() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (path, _) = try Self.writeModel(codec: .raw, in: folder)
        let damaged = try CNNZReader(path: path).index(of: "dense.kernel") ?? -1
        let chunk = try Self.corrupt(path, tensor: damaged, chunk: 2)
        func expectChunkError(_ body: () throws -> Void) {
            do {
                try body()
                Issue.record("expected a checksum error")
            } catch let error as CNNZError {
                guard case let .checksumMismatch(l, .chunk, _, _) = error else { Issue.record("\(error)"); return }
                #expect(l.tensor == "dense.kernel" && l.chunk == 2 && l.offset == chunk.offset && l.file == path)
                #expect(error.category == .invalidInput)
            } catch {
                Issue.record("\(error)")
            }
        }
        expectChunkError { _ = try CNNZReader(path: path, options: CNNZReadOptions(mapFile: true)) }
        let lazy = try CNNZReader(path: path, options: CNNZReadOptions(mapFile: true, lazyChecksums: true))
        for i in lazy.tensors.indices where i != damaged { _ = try lazy.view(at: i) }
        expectChunkError { _ = try lazy.view(at: damaged) }
        expectChunkError { _ = try lazy.view(at: damaged) }
        let unchecked = try CNNZReader(path: path, options: CNNZReadOptions(verifyChecksums: false, mapFile: true))
        #expect(try unchecked.view(at: damaged).isBorrowed)
    }

    @Test("a truncated file is refused with a typed error when it is mapped, never read past its end")
    func truncated() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (path, _) = try Self.writeModel(codec: .raw, in: folder)
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        for keep in [0, 10, 100, bytes.count / 2, bytes.count - 1] {
            try Data(bytes.prefix(keep)).write(to: URL(fileURLWithPath: path))
            #expect(throws: CNNZError.self, "\(keep) bytes") { _ = try CNNZReader(path: path, options: CNNZReadOptions(mapFile: true)) }
        }
        #expect(throws: CNNZError.self) { _ = try CNNZReader(path: folder + "/missing.cnnz", options: CNNZReadOptions(mapFile: true)) }
    }
}

import ConvNet
import Foundation
import ModelArchive
import Testing
@testable import CNNZFormat

@Suite("CNNZ writer and per-tensor reader")
struct WriterTests {
    @Test("streaming appends in any slicing give the same bytes as whole tensors")
    func streaming() throws {
        var rng = RandomGenerator(seed: 9)
        let values = (0..<10_000).map { _ in Float(rng.nextGaussian()) }
        let options = CNNZWriteOptions(codec: .shuffleDeflate, chunkSize: 1024)
        let whole = try CNNZStreamWriter.encode(options: options, architecture: .seed) { w in
            try w.writeTensor("x", Tensor(shape: [100, 100], scalars: values))
        }
        let sliced = try CNNZStreamWriter.encode(options: options, architecture: .seed) { w in
            try w.beginTensor("x", shape: [100, 100])
            var start = 0
            var step = 1
            while start < values.count {
                let end = min(values.count, start + step)
                try w.append(Array(values[start..<end]))
                start = end
                step = step * 3 % 977 + 1
            }
            try w.endTensor()
        }
        #expect(whole == sliced)
        let reader = try CNNZReader(bytes: whole, name: "mem", options: .container)
        #expect(reader.tensors[0].chunks.count == 40)
        #expect(reader.tensors[0].rawBytes == 40_000)
        #expect(reader.tensors[0].storedBytes == reader.tensors[0].chunks.reduce(0) { $0 + $1.storedBytes })
        #expect(try reader.readTensor(named: "x").scalars == values)
    }

    @Test("writer misuse is refused with a reason")
    func misuse() throws {
        func refused(_ body: (CNNZStreamWriter) throws -> Void) {
            #expect(throws: CNNZError.self) { _ = try CNNZStreamWriter.encode(architecture: .seed, body) }
        }
        refused { try $0.append([1]) }
        refused { try $0.endTensor() }
        refused { w in try w.beginTensor("a", shape: [2]); try w.append([1, 2, 3]) }
        refused { w in try w.beginTensor("a", shape: [2]); try w.append([1]); try w.endTensor() }
        refused { w in try w.beginTensor("a", shape: [2]) }
        refused { w in try w.writeTensor("a", Tensor(shape: [1], scalars: [1])); try w.writeTensor("a", Tensor(shape: [1], scalars: [1])) }
        refused { w in try w.beginTensor("a", shape: [-1]) }
        refused { w in try w.writeTensor("p", Tensor(shape: [1], scalars: [1]), role: .probeInputs) }
        #expect(throws: CNNZError.self) { _ = try CNNZStreamWriter.encode(options: CNNZWriteOptions(codec: .shuffleDeflate, level: 10), architecture: .seed) { _ in } }
        #expect(throws: CNNZError.self) { _ = try CNNZStreamWriter.encode(options: CNNZWriteOptions(level: 23), architecture: .seed) { _ in } }
        #expect(throws: CNNZError.self) { _ = try CNNZStreamWriter.encode(options: CNNZWriteOptions(chunkSize: 12), architecture: .seed) { _ in } }
        // A document whose tensor is named like a probe tensor collides.
        var document = tinyDocument()
        document.tensors.append(NamedTensor(name: "probes.inputs", tensor: Tensor(shape: [1], scalars: [0])))
        #expect(throws: CNNZError.self) { try CNNZModel.encode(document) }
    }

    @Test("writes are atomic: a failure leaves nothing and keeps an existing file")
    func atomic() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/m.cnnz"
        try CNNZModel.write(tinyDocument(), to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(Array(before) == (try CNNZModel.encode(tinyDocument())))
        var bad = tinyDocument()
        bad.tensors[0].tensor.scalars[0] = 0.5
        #expect(throws: CNNZError.self) { try CNNZModel.write(bad, to: path, options: CNNZWriteOptions(dtype: .uint8)) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["m.cnnz"])
        #expect(throws: CNNZError.self) { try CNNZModel.write(tinyDocument(), to: folder + "/missing/m.cnnz") }
        let error = #expect(throws: CNNZError.self) { try CNNZModel.write(tinyDocument(), to: folder + "/missing/m.cnnz") }
        #expect(error?.category == .cannotCreateOutput)
    }

    @Test("per-tensor information for inspect")
    func info() throws {
        let bytes = try CNNZModel.encode(tinyDocument(), options: CNNZWriteOptions(codec: .deflate, dtype: .float16))
        let reader = try CNNZReader(bytes: bytes, name: "mem")
        let kernel = try #require(reader.tensors.first)
        #expect(kernel.name == "conv2d.kernel" && kernel.role == .parameter && kernel.dtype == .float16 && kernel.codec == .deflate)
        #expect(kernel.shape == [2, 2, 1, 2] && kernel.elementCount == 8 && kernel.rawBytes == 16 && kernel.lossy)
        #expect(reader.tensors.map(\.role) == [.parameter, .parameter, .parameter, .parameter, .optimizerSlot, .optimizerSlot, .optimizerSlot, .optimizerSlot, .probeInputs, .probeOutputs])
        #expect(reader.architecture == tinyDocument().architecture)
        #expect(reader.trainingState?.step == 10)
        #expect(reader.probesSource == "fixture")
        #expect(reader.metadata["cnnz.lossy"] == "conv2d.kernel:float16,conv2d.bias:float16,dense.kernel:float16,dense.bias:float16,optimizer.conv2d.kernel.momentum:float16,optimizer.conv2d.bias.momentum:float16,optimizer.dense.kernel.momentum:float16,optimizer.dense.bias.momentum:float16")
        #expect(throws: CNNZError.self) { try reader.readTensor(named: "nope") }
        #expect(throws: CNNZError.self) { try reader.readTensor(at: 99) }
    }

    @Test("chunk CRCs can be skipped on request; structure is still checked")
    func skipChecksums() throws {
        var bytes = try CNNZModel.encode(tinyDocument(), options: CNNZWriteOptions(codec: .raw))
        let reader = try CNNZReader(bytes: bytes, name: "mem")
        bytes[Int(reader.tensors[0].dataOffset)] ^= 1
        #expect(throws: CNNZError.self) { try CNNZModel.read(bytes: bytes, name: "mem") }
        let relaxed = try CNNZModel.read(bytes: bytes, name: "mem", options: CNNZReadOptions(verifyChecksums: false))
        #expect(relaxed.tensors[0] != tinyDocument().tensors[0])
    }

    @Test("a model of many chunks streams through a file with bounded appends")
    func largeStream() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/big.cnnz"
        let rows = 1024, columns = 1024   // 4 MiB of float32: four 1 MiB chunks
        try CNNZStreamWriter.write(to: path, options: CNNZWriteOptions(codec: .raw), architecture: .seed) { w in
            try w.beginTensor("big", shape: [rows, columns])
            for r in 0..<rows { try w.append((0..<columns).map { Float(r * columns + $0) }) }
            try w.endTensor()
        }
        let reader = try CNNZReader(path: path, options: .container)
        #expect(reader.tensors[0].chunks.count == 4)
        #expect(reader.tensors[0].dataOffset % 64 == 0)
        let t = try reader.readTensor(at: 0)
        #expect(t.scalars[123_456] == 123_456)
    }
}

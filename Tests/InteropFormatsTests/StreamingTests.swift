import ConvNet
import Foundation
import ModelArchive
import Testing
import CNNKitTestSupport
@testable import InteropNumPy
@testable import InteropONNX

@Suite("npz streaming")
struct NPZStreamingTests {
    @Test("the writer fetches each tensor once, in member order, and writes the bytes of the whole-document encoder; the reader gives the document back", arguments: [false, true])
    func writeAndRead(compress: Bool) throws {
        let folder = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let document = try TestSupport.document(seed: 5)
        let path = folder.appendingPathComponent("m.npz").path
        let log = FetchLog()
        try NPZFileFormat().write(log.model(document), to: path, options: SaveOptions(compress: compress))
        #expect(log.names == document.tensors.map(\.name) + (document.trainingState?.slots ?? []).map(\.name))
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == NPZModel.encode(document, compress: compress))
        let reader = try NPZFileFormat().openReader(path: path, architecture: nil)
        #expect(reader.parameterTensors.map(\.name) == document.tensors.map(\.name))
        #expect(try StreamedModel(reader: reader).document() == document)
    }

    @Test("a damaged tensor member opens, and fails only when that tensor is read, naming the member", arguments: [false, true])
    func damagedMember(compress: Bool) throws {
        let folder = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let document = ModelDocument(network: try Network(architecture: .seed))
        let damaged = try #require(document.tensors.max { $0.tensor.scalars.count < $1.tensor.scalars.count })
        try #require(damaged.tensor.scalars.count >= 64)
        let path = folder.appendingPathComponent("m.npz").path
        var bytes = try NPZModel.encode(document, compress: compress)
        // The member's data follows its name in its local header (no extra field): flip a byte well inside it.
        let name = Array(NPZLayout.member(damaged.name).utf8)
        let at = try #require((0..<bytes.count).first { bytes[$0...].starts(with: name) })
        bytes[at + name.count + 100] ^= 0x5A
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let reader = try NPZTensorReader(path: path)
        for t in document.tensors where t.name != damaged.name {
            #expect(try reader.readTensor(named: t.name) == t.tensor)
        }
        #expect { try reader.readTensor(named: damaged.name) } throws: { error in
            guard case let .corruptMember(file, member, _) = error as? NumPyError else { return false }
            return file == path && member == "\(damaged.name).npy"
        }
    }

    @Test("values decode the same whatever the chunks they arrive in")
    func chunking() throws {
        let array = NumPyArray(shape: [3, 5], values: (0..<15).map { Float($0) * 1.5 - 4 })
        let bytes = array.encoded()
        for step in [1, 3, 7, 64, 65, bytes.count] {
            var parser = NumPyStreamParser(path: "a.npy", total: bytes.count)
            var start = 0
            while start < bytes.count {
                let end = min(start + step, bytes.count)
                try bytes[start..<end].withUnsafeBytes { try parser.consume($0) }
                start = end
            }
            #expect(try parser.finish() == array, "chunks of \(step) bytes")
        }
    }
}

@Suite("ONNX streaming")
struct ONNXStreamingTests {
    @Test("the export fetches each parameter once, in initializer order, and writes the bytes of the in-memory encoder")
    func writeFetchesOnce() throws {
        let folder = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let document = try TestSupport.document(seed: 3, minimal: true)
        let path = folder.appendingPathComponent("m.onnx").path
        let log = FetchLog()
        try ONNXFileFormat().write(log.model(document), to: path, options: SaveOptions())
        let graph = try ONNXGraph.build(from: document)
        #expect(log.names == graph.initializers.map(\.name).filter { !$0.hasPrefix("preprocessing.") })
        #expect(Set(log.names) == Set(document.tensors.map(\.name)))
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == ONNXExport.encode(document))
    }
}

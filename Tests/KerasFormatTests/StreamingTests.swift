import ConvNet
import Foundation
import HDF5Format
import ModelArchive
import Testing
import CNNKitTestSupport
@testable import KerasFormat

@Suite(".keras streaming")
struct KerasStreamingTests {
    @Test("the writer fetches each tensor once and writes the bytes of a document's write; the reader reads one tensor at a time from the extracted weights", arguments: [1, 2, 6])
    func writeAndRead(seed: UInt64) throws {
        let folder = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let document = try TestSupport.document(seed: seed)
        let streamed = folder.appendingPathComponent("s.keras").path, whole = folder.appendingPathComponent("w.keras").path
        let log = FetchLog()
        try KerasFileFormat().write(log.model(document), to: streamed, options: SaveOptions())
        let names = document.tensors.map(\.name) + (document.trainingState?.slots ?? []).map(\.name)
        #expect(log.names.sorted() == names.sorted())
        #expect(Set(log.names).count == log.names.count)
        try KerasArchive.write(document, to: whole)
        #expect(try Data(contentsOf: URL(fileURLWithPath: streamed)) == Data(contentsOf: URL(fileURLWithPath: whole)))

        let reader = try KerasFileFormat().openReader(path: streamed, architecture: nil)
        #expect(reader.formatVersion.hasPrefix("Keras 3 archive (.keras)"))
        #expect(reader.parameterTensors.map(\.name) == document.tensors.map(\.name))
        for t in document.tensors.reversed() { #expect(try reader.readTensor(named: t.name) == t.tensor) }
        #expect(try StreamedModel(reader: reader).document() == KerasArchive.read(path: whole))
        #expect(throws: HDF5Error.self) { try reader.readTensor(named: "no.such.tensor") }
    }
}

import CHDF5
import ConvNet
import Foundation
import HDF5Format
import ModelArchive
import Testing

@Suite("HDF5 sink and source")
struct HDF5SinkTests {
    @Test("chunk shapes stay below 1 MiB and cover the dataset")
    func chunkShapes() {
        #expect(HDF5Sink.chunkShape([3, 3, 1, 16], elementSize: 4) == [3, 3, 1, 16])
        let big = HDF5Sink.chunkShape([100_000, 100], elementSize: 4)
        #expect(big.reduce(4, *) <= HDF5Sink.chunkBytes && big[1] == 100)
    }

    @Test("what the sink writes, the source reads back", arguments: [HDF5Compression.none, .deflate(level: 6)])
    func roundTrip(compression: HDF5Compression) throws {
        let directory = try HDF5FileFactory.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("sample.h5").path
        try HDF5FileFactory.writeSample(to: path, compression: compression)
        let source = try HDF5Source.open(path: path, name: path)
        try HDF5Library.serialized {
            let root = source.root
            #expect(try source.string(root, "title", path: "/") == "wrapper")
            #expect(try source.integer(root, "count", path: "/") == 42)
            #expect(try source.string(root, "absent", path: "/") == nil)
            let data = try source.readFloats(root, "data", base: "/", expected: [2, 3])
            #expect(data.shape == [2, 3])
            #expect(data.scalars.map(\.bitPattern) == HDF5FileFactory.data.map(\.bitPattern))
            #expect(try source.memberNames(root, path: "/") == ["data", "group"])
            var attributes: [String] = []
            try source.forEachAttributeName(root, path: "/") { attributes.append($0) }
            #expect(attributes == ["big", "count", "title"])

            let group = try source.openGroup(root, "group", base: "/")
            #expect(try source.strings(group, "names", path: "/group") == ["a", "bc"])
            #expect(try source.strings(group, "empty", path: "/group") == [])
            #expect(try source.readDoubles(root, "group/doubles", base: "/") == [0.5, -1, 1e300])
            #expect(try source.readInteger(group, "step", base: "/group") == 7)
            #expect(try source.readScalarFloat(group, "rate", base: "/group") == 0.25)
            #expect(try source.memberNames(group, path: "/group") == ["counts", "doubles", "rate", "step"])
        }
    }

    @Test("deflate writes chunked, filtered datasets; scalars stay contiguous")
    func storage() throws {
        let directory = try HDF5FileFactory.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("sample.h5").path
        try HDF5FileFactory.writeSample(to: path, compression: .deflate(level: 9))
        let source = try HDF5Source.open(path: path, name: path)
        try HDF5Library.serialized {
            for (relative, layout, filters) in [("data", H5D_CHUNKED, Int32(3)), ("group/rate", H5D_CONTIGUOUS, 0)] {
                let dataset = try source.openDataset(source.root, relative, base: "/")
                let dcpl = try source.check.open(.propertyList, "H5Dget_create_plist", relative, H5Dget_create_plist(dataset.id))
                #expect(H5Pget_layout(dcpl.id) == layout)
                #expect(H5Pget_nfilters(dcpl.id) == filters)
            }
        }
    }

    @Test("the same content gives the same bytes")
    func deterministic() throws {
        let directory = try HDF5FileFactory.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let a = directory.appendingPathComponent("a.h5"), b = directory.appendingPathComponent("b.h5")
        try HDF5FileFactory.writeSample(to: a.path, compression: .deflate(level: 4))
        try HDF5FileFactory.writeSample(to: b.path, compression: .deflate(level: 4))
        #expect(try Data(contentsOf: a) == Data(contentsOf: b))
    }

    @Test("a file that cannot be created is cannotCreate, naming the checker's file")
    func cannotCreate() throws {
        let sink = HDF5Sink(check: HDF5Checker(file: "shown.h5", writing: true), compression: .none)
        let error = try #require(throws: HDF5Error.self) {
            try HDF5Library.serialized { _ = try sink.createFile("/nonexistent-cnnkit-folder/temp.h5") }
        }
        guard case let .cannotCreate(file, reason) = error else { Issue.record("expected cannotCreate, got \(error)"); return }
        #expect(file == "shown.h5" && reason.hasPrefix("H5Fcreate failed ("))
        #expect(error.category == .cannotCreateOutput)
    }

    @Test("a failed write call names the call and the path, as a write failure")
    func failedWrite() throws {
        let directory = try HDF5FileFactory.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("sample.h5").path
        let sink = HDF5Sink(check: HDF5Checker(file: path, writing: true), compression: .none)
        let error = try #require(throws: HDF5Error.self) {
            try HDF5Library.serialized {
                let root = try sink.createFile(path)
                try sink.createGroup(root, "twice", path: "/twice").close()
                try sink.createGroup(root, "twice", path: "/twice").close()
            }
        }
        guard case let .callFailed(file, location, call, stack, writing) = error else { Issue.record("expected callFailed, got \(error)"); return }
        #expect(file == path && location == "/twice" && call == "H5Gcreate2" && writing && !stack.isEmpty)
        #expect(error.category == .writeFailed)
        #expect(!error.description.contains("\n"))
    }
}

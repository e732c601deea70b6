import CHDF5
import Foundation
import HDF5Format
import ModelArchive
import Testing

/// The reader's safety refusals on the wrapper's own sample file, each made by hand with libhdf5 calls.
@Suite("HDF5 source refusals")
struct HDF5SourceRefusalTests {
    /// Writes the sample file, edits it and returns the folder and the path.
    static func editedSample(_ edit: (HDF5Handle) throws -> Void) throws -> (URL, String) {
        let directory = try HDF5FileFactory.temporaryDirectory()
        let path = directory.appendingPathComponent("sample.h5").path
        try HDF5FileFactory.writeSample(to: path)
        try HDF5FileFactory.edit(path, edit)
        return (directory, path)
    }

    /// Creates `name` as a float32 dataset of `dims` with the given creation properties, without writing it.
    static func createDataset(_ file: HDF5Handle, _ name: String, dims: [hsize_t], dcpl: HDF5Handle) throws {
        let space = HDF5Handle(H5Screate_simple(Int32(dims.count), dims, nil), kind: .dataspace)
        let id = H5Dcreate2(file.id, name, cnnkit_H5T_IEEE_F32LE(), space.id, h5Default, dcpl.id, h5Default)
        try #require(id >= 0)
        HDF5Handle(id, kind: .dataset, in: file).close()
    }

    /// Reads `relative` below the root as floats and returns the error.
    static func failure(_ path: String, _ relative: String, name: String? = nil) throws -> HDF5Error {
        let source = try HDF5Source.open(path: path, name: name ?? path)
        return try #require(throws: HDF5Error.self) {
            try HDF5Library.serialized { _ = try source.readFloats(source.root, relative, base: "/") }
        }
    }

    @Test("soft and external links are refused, naming their paths")
    func links() throws {
        let (directory, path) = try Self.editedSample { file in
            try #require(H5Lcreate_soft("/data", file.id, "/soft", h5Default, h5Default) >= 0)
            try #require(H5Lcreate_external("/etc/other.h5", "/data", file.id, "/group/external", h5Default, h5Default) >= 0)
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try Self.failure(path, "soft") == .refused(file: path, location: "/soft", reason: "soft link (CNNKit follows only hard links)"))
        #expect(try Self.failure(path, "group/external")
            == .refused(file: path, location: "/group/external", reason: "external link to another file (CNNKit follows only hard links)"))
        let source = try HDF5Source.open(path: path, name: path)
        try HDF5Library.serialized { () throws in
            #expect(throws: HDF5Error.self) { try source.exists(source.root, "soft", path: "/soft") }
            #expect(try source.exists(source.root, "data", path: "/data"))
            #expect(try !source.exists(source.root, "absent", path: "/absent"))
        }
    }

    @Test("external and virtual datasets are refused")
    func externalAndVirtual() throws {
        let (directory, path) = try Self.editedSample { file in
            let external = HDF5Handle(H5Pcreate(cnnkit_H5P_DATASET_CREATE()), kind: .propertyList)
            try #require(H5Pset_external(external.id, "raw.bin", 0, hsize_t(2 * 3 * 4)) >= 0)
            try Self.createDataset(file, "external", dims: [2, 3], dcpl: external)
            let dims: [hsize_t] = [2, 3]
            let space = HDF5Handle(H5Screate_simple(2, dims, nil), kind: .dataspace)
            let virtual = HDF5Handle(H5Pcreate(cnnkit_H5P_DATASET_CREATE()), kind: .propertyList)
            try #require(H5Pset_virtual(virtual.id, space.id, ".", "/data", space.id) >= 0)
            try Self.createDataset(file, "virtual", dims: dims, dcpl: virtual)
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        guard case let .refused(_, location, reason) = try Self.failure(path, "external") else { Issue.record("expected refused"); return }
        #expect(location == "/external" && reason.contains("external dataset"))
        guard case let .refused(_, location, reason) = try Self.failure(path, "virtual") else { Issue.record("expected refused"); return }
        #expect(location == "/virtual" && reason.contains("virtual dataset"))
    }

    @Test("a dataspace far larger than the stored bytes is refused before allocating", arguments: [true, false])
    func oversized(chunked: Bool) throws {
        let (directory, path) = try Self.editedSample { file in
            let dcpl = HDF5Handle(H5Pcreate(cnnkit_H5P_DATASET_CREATE()), kind: .propertyList)
            if chunked {
                let chunk: [hsize_t] = [1, 6]
                try #require(H5Pset_chunk(dcpl.id, 2, chunk) >= 0)
            } else {
                try #require(H5Pset_alloc_time(dcpl.id, H5D_ALLOC_TIME_LATE) >= 0)
            }
            try Self.createDataset(file, "big", dims: [hsize_t(1 << 24), 6], dcpl: dcpl)
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = try Self.failure(path, "big")
        guard case let .refused(_, location, reason) = error else { Issue.record("expected refused, got \(error)"); return }
        #expect(location == "/big" && reason.hasPrefix("dataspace [16777216, 6] needs 402653184 bytes, but only 0"))
    }

    @Test("missing paths, wrong kinds, types and shapes are invalid, naming the path, expected and found")
    func invalid() throws {
        let directory = try HDF5FileFactory.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("sample.h5").path
        try HDF5FileFactory.writeSample(to: path)
        #expect(try Self.failure(path, "group/absent") == .invalid(file: path, location: "/group/absent", reason: "missing (required by the layout)"))
        #expect(try Self.failure(path, "group") == .invalid(file: path, location: "/group", reason: "expected a dataset, found another kind of object"))
        #expect(try Self.failure(path, "group/counts")
            == .invalid(file: path, location: "/group/counts", reason: "expected a floating-point dataset, found integer"))
        let source = try HDF5Source.open(path: path, name: path)
        try HDF5Library.serialized {
            let shape = try #require(throws: HDF5Error.self) { try source.readFloats(source.root, "data", base: "/", expected: [3, 2]) }
            #expect(shape == .invalid(file: path, location: "/data", reason: "expected shape [3, 2], found [2, 3]"))
            let string = try #require(throws: HDF5Error.self) { try source.string(source.root, "count", path: "/") }
            #expect(string == .invalid(file: path, location: "/@count", reason: "expected a string attribute, found integer"))
        }
    }

    @Test("opening names the file as the caller names it; a file that is not HDF5 fails in H5Fopen")
    func opening() throws {
        let directory = try HDF5FileFactory.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("missing.h5").path
        let error = try #require(throws: HDF5Error.self) { try HDF5Source.open(path: missing, name: "archive.keras:model.weights.h5") }
        guard case let .missingFile(file, _) = error else { Issue.record("expected missingFile, got \(error)"); return }
        #expect(file == "archive.keras:model.weights.h5" && error.category == .missingInput)

        let text = directory.appendingPathComponent("text.h5").path
        try Data("hello, this is not HDF5\n".utf8).write(to: URL(fileURLWithPath: text))
        let notHDF5 = try #require(throws: HDF5Error.self) { try HDF5Source.open(path: text, name: "shown.h5") }
        guard case let .callFailed(file, location, call, stack, writing) = notHDF5 else { Issue.record("expected callFailed, got \(notHDF5)"); return }
        #expect(file == "shown.h5" && location == "/" && call == "H5Fopen" && !writing && !stack.isEmpty)
        #expect(notHDF5.category == .invalidInput && !notHDF5.description.contains("\n"))
    }
}

import CHDF5
import Foundation
import HDF5Format
import ModelArchive
import Testing

/// The descriptor driver (HDF5 written into an unnamed `O_TMPFILE` temporary) and the screening read.
@Suite("HDF5 descriptor driver and screening read")
struct HDF5DescriptorAndScreeningTests {
    @Test("an unnamed temporary gets the bytes libhdf5's own driver writes to a named file", arguments: [HDF5Compression.none, .deflate(level: 4)])
    func unnamedTemporary(compression: HDF5Compression) throws {
        let directory = try HDF5FileFactory.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let named = directory.appendingPathComponent("named.h5").path
        try HDF5FileFactory.writeSample(to: named, compression: compression)

        let temp = try TemporaryFile(in: directory.path, base: "unnamed.h5")
        defer { temp.remove() }
        #if os(Linux)
        #expect(temp.name == nil && temp.path == "/proc/self/fd/\(temp.descriptor)", "O_TMPFILE is available here")
        #endif
        try HDF5FileFactory.writeSample(to: temp.path, compression: compression)
        // Nothing named appeared in the folder while writing.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["named.h5"])
        let written = try FileHandle(forReadingFrom: URL(fileURLWithPath: temp.path)).readToEnd()
        #expect(written == FileManager.default.contents(atPath: named))
    }

    @Test("the screening read reads every attribute and dataset of a sound file")
    func readsEverything() throws {
        let directory = try HDF5FileFactory.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("sample.h5").path
        try HDF5FileFactory.writeSample(to: path, compression: .deflate(level: 6))
        var failures: [String] = []
        let counts = HDF5Library.readEverything(path: path, name: "sample.h5") { failures.append("\($0)") }
        #expect(failures == [])
        // writeSample: 3 root attributes, 2 on /group; datasets data, doubles, rate, step, counts.
        #expect(counts.attributes == 5)
        #expect(counts.datasets == 5)
        #expect(counts.objects >= 7)
    }

    @Test("a failure does not stop the screening read; every failure is reported")
    func readsOnPastFailures() throws {
        let directory = try HDF5FileFactory.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("sample.h5").path
        try HDF5FileFactory.writeSample(to: path)
        // Turn /data into a dataset whose dataspace claims more than is stored: a refusal, then the rest is read.
        try HDF5FileFactory.edit(path) { root in
            _ = H5Ldelete(root.id, "data", cnnkit_H5P_DEFAULT())
            var dims: [hsize_t] = [1 << 20]
            let space = H5Screate_simple(1, &dims, nil)
            let dcpl = H5Pcreate(cnnkit_H5P_DATASET_CREATE())
            _ = H5Pset_layout(dcpl, H5D_CONTIGUOUS)
            _ = H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_LATE)
            let dataset = H5Dcreate2(root.id, "data", cnnkit_H5T_IEEE_F32LE(), space, cnnkit_H5P_DEFAULT(), dcpl, cnnkit_H5P_DEFAULT())
            _ = H5Dclose(dataset)
            _ = H5Pclose(dcpl)
            _ = H5Sclose(space)
        }
        var failures: [String] = []
        let counts = HDF5Library.readEverything(path: path, name: "sample.h5") { failures.append("\($0)") }
        #expect(failures.count == 1)
        #expect(failures.first?.hasPrefix("sample.h5: at /data: refused: ") == true, "\(failures)")
        #expect(counts.datasets == 4)
        #expect(counts.attributes == 5)
    }
}

import CHDF5
import CNNKitTestSupport
import Foundation
import HDF5Format
import Testing

/// Small HDF5 files for the wrapper's tests, written with ``HDF5Sink`` and edited with plain libhdf5 calls.
enum HDF5FileFactory {
    /// A fresh temporary folder.
    static func temporaryDirectory() throws -> URL { try TestFiles.temporaryDirectory(prefix: "hdf5") }

    /// The values of `/data`.
    static let data: [Float] = [1, -2, 3.5, .infinity, -0.0, .leastNonzeroMagnitude]

    /// Writes a file with every kind of object the sink makes:
    ///
    /// ```
    /// /                 @title 'wrapper' (UTF-8)   @count 42 (int64)   @big 2^63 (uint64)
    /// /data             float32 [2, 3]
    /// /group            @names ['a', 'bc'] (ASCII)   @empty float64 (0,)
    /// /group/doubles    float64 [3]
    /// /group/counts     uint64 [2]
    /// /group/step       int32 scalar 7
    /// /group/rate       float32 scalar 0.25
    /// ```
    static func writeSample(to path: String, compression: HDF5Compression = .none) throws {
        let sink = HDF5Sink(check: HDF5Checker(file: path, writing: true), compression: compression)
        try HDF5Library.serialized {
            let root = try sink.createFile(path)
            try sink.setString(root, "title", "wrapper", path: "/")
            try sink.setInt64(root, "count", 42, path: "/")
            try sink.setUInt64(root, "big", 1 << 63, path: "/")
            try sink.writeFloats(root, "data", shape: [2, 3], scalars: data, path: "/data")
            let group = try sink.createGroup(root, "group", path: "/group")
            try sink.setStringList(group, "names", ["a", "bc"], path: "/group")
            try sink.setEmptyList(group, "empty", path: "/group")
            try sink.writeDoubles(group, "doubles", shape: [3], scalars: [0.5, -1, 1e300], path: "/group/doubles")
            try sink.writeUInt64s(group, "counts", shape: [2], scalars: [1, .max], path: "/group/counts")
            try sink.writeScalarInt32(group, "step", value: 7, path: "/group/step")
            try sink.writeScalarFloat(group, "rate", value: 0.25, path: "/group/rate")
            try sink.flush(root)
        }
    }

    /// Opens `path` read-write and runs `edit` on its file identifier, under the library lock.
    static func edit(_ path: String, _ edit: (HDF5Handle) throws -> Void) throws {
        try HDF5Library.serialized {
            let id = H5Fopen(path, cnnkit_H5F_ACC_RDWR(), h5Default)
            try #require(id >= 0)
            try edit(HDF5Handle(id, kind: .file))
        }
    }

    /// The number of identifiers open in every file of the process (`H5Fget_obj_count` with `H5F_OBJ_ALL`, which
    /// Swift does not import: files, datasets, groups, datatypes and attributes). Call it under the library lock:
    /// other threads open and close identifiers only while holding it.
    static func openObjectCount() -> Int {
        let all = H5F_OBJ_FILE | H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR
        return Int(H5Fget_obj_count(hid_t(all), UInt32(all)))
    }
}

import CHDF5
import Glibc

/// Writes groups, datasets and attributes into an open HDF5 file, every call through one ``HDF5Checker``.
///
/// Objects are created without modification times (`H5Pset_obj_track_times(…, 0)`) so that the same document
/// always gives the same bytes. Strings are variable-length, UTF-8 or ASCII as Keras writes them.
struct HDF5Sink {
    let check: HDF5Checker
    let compression: HDF5Compression

    /// The largest chunk a compressed dataset uses, in bytes.
    static let chunkBytes = 1 << 20

    // MARK: Groups

    /// Creates a group (`H5Gcreate2`); the caller closes it with `H5Gclose`.
    func createGroup(_ parent: hid_t, _ name: String, path: String) throws -> hid_t {
        let gcpl = try check.id("H5Pcreate", path, H5Pcreate(cnnkit_H5P_GROUP_CREATE()))
        defer { H5Pclose(gcpl) }
        try check.status("H5Pset_obj_track_times", path, H5Pset_obj_track_times(gcpl, false))
        return try check.id("H5Gcreate2", path, H5Gcreate2(parent, name, h5Default, gcpl, h5Default))
    }

    /// Creates a group and closes it right away.
    func makeGroup(_ parent: hid_t, _ name: String, path: String) throws {
        let group = try createGroup(parent, name, path: path)
        H5Gclose(group)
    }

    // MARK: Datasets

    /// Writes a float32 dataset (`H5T_IEEE_F32LE`) of the given shape; chunked and filtered when compressing.
    func writeFloats(_ parent: hid_t, _ name: String, shape: [Int], scalars: [Float], path: String) throws {
        try writeDataset(parent, name, shape: shape, fileType: cnnkit_H5T_IEEE_F32LE(), memoryType: cnnkit_H5T_NATIVE_FLOAT(),
                         elementSize: 4, path: path) { pointer in try scalars.withUnsafeBytes { try pointer($0.baseAddress) } }
    }

    /// Writes a float64 dataset (`H5T_IEEE_F64LE`).
    func writeDoubles(_ parent: hid_t, _ name: String, shape: [Int], scalars: [Double], path: String) throws {
        try writeDataset(parent, name, shape: shape, fileType: cnnkit_H5T_IEEE_F64LE(), memoryType: cnnkit_H5T_NATIVE_DOUBLE(),
                         elementSize: 8, path: path) { pointer in try scalars.withUnsafeBytes { try pointer($0.baseAddress) } }
    }

    /// Writes a uint64 dataset (`H5T_STD_U64LE`).
    func writeUInt64s(_ parent: hid_t, _ name: String, shape: [Int], scalars: [UInt64], path: String) throws {
        try writeDataset(parent, name, shape: shape, fileType: cnnkit_H5T_STD_U64LE(), memoryType: cnnkit_H5T_NATIVE_UINT64(),
                         elementSize: 8, path: path) { pointer in try scalars.withUnsafeBytes { try pointer($0.baseAddress) } }
    }

    /// Writes a scalar int32 dataset (`H5T_STD_I32LE`), as Keras stores an optimizer's `iteration`.
    func writeScalarInt32(_ parent: hid_t, _ name: String, value: Int32, path: String) throws {
        try writeDataset(parent, name, shape: [], fileType: cnnkit_H5T_STD_I32LE(), memoryType: cnnkit_H5T_NATIVE_INT32(),
                         elementSize: 4, path: path) { pointer in try withUnsafeBytes(of: value) { try pointer($0.baseAddress) } }
    }

    /// Writes a scalar float32 dataset, as Keras stores an optimizer's `learning_rate`.
    func writeScalarFloat(_ parent: hid_t, _ name: String, value: Float, path: String) throws {
        try writeFloats(parent, name, shape: [], scalars: [value], path: path)
    }

    /// Creates a dataset (`H5Screate_simple`/`H5Screate`, `H5Dcreate2`) and writes it whole (`H5Dwrite`).
    private func writeDataset(_ parent: hid_t, _ name: String, shape: [Int], fileType: hid_t, memoryType: hid_t, elementSize: Int,
                              path: String, data: ((UnsafeRawPointer?) throws -> Void) throws -> Void) throws {
        let dims = shape.map { hsize_t($0) }
        let space = try check.id("H5Screate_simple", path,
                                 dims.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), dims, nil))
        defer { H5Sclose(space) }
        let dcpl = try check.id("H5Pcreate", path, H5Pcreate(cnnkit_H5P_DATASET_CREATE()))
        defer { H5Pclose(dcpl) }
        try check.status("H5Pset_obj_track_times", path, H5Pset_obj_track_times(dcpl, false))
        let count = shape.reduce(1, *)
        if case let .deflate(level) = compression, !shape.isEmpty, count > 0 {
            let chunk = HDF5Sink.chunkShape(shape, elementSize: elementSize).map { hsize_t($0) }
            try check.status("H5Pset_chunk", path, H5Pset_chunk(dcpl, Int32(chunk.count), chunk))
            try check.status("H5Pset_shuffle", path, H5Pset_shuffle(dcpl))
            try check.status("H5Pset_deflate", path, H5Pset_deflate(dcpl, UInt32(min(max(level, 0), 9))))
            try check.status("H5Pset_fletcher32", path, H5Pset_fletcher32(dcpl))
        }
        let dataset = try check.id("H5Dcreate2", path, H5Dcreate2(parent, name, fileType, space, h5Default, dcpl, h5Default))
        defer { H5Dclose(dataset) }
        guard count > 0 else { return }
        try data { pointer in
            try check.status("H5Dwrite", path, H5Dwrite(dataset, memoryType, cnnkit_H5S_ALL(), cnnkit_H5S_ALL(), h5Default, pointer))
        }
    }

    /// A chunk shape of at most ``chunkBytes`` bytes: the dataset's shape with the outer axes cut down.
    static func chunkShape(_ shape: [Int], elementSize: Int) -> [Int] {
        var chunk = shape
        var axis = 0
        while axis < chunk.count, chunk.reduce(elementSize, *) > chunkBytes {
            if chunk[axis] > 1 { chunk[axis] = (chunk[axis] + 1) / 2 } else { axis += 1 }
        }
        return chunk
    }

    // MARK: Attributes

    /// Sets a scalar variable-length string attribute (`H5Acreate2`, `H5Awrite`).
    func setString(_ object: hid_t, _ name: String, _ value: String, utf8: Bool = true, path: String) throws {
        try setStrings(object, name, [value], scalar: true, utf8: utf8, path: path)
    }

    /// Sets a one-dimensional variable-length string attribute, as Keras' `layer_names` and `weight_names`.
    func setStringList(_ object: hid_t, _ name: String, _ values: [String], utf8: Bool = false, path: String) throws {
        try setStrings(object, name, values, scalar: false, utf8: utf8, path: path)
    }

    private func setStrings(_ object: hid_t, _ name: String, _ values: [String], scalar: Bool, utf8: Bool, path: String) throws {
        let location = "\(path)@\(name)"
        let type = try check.id("H5Tcopy", location, H5Tcopy(cnnkit_H5T_C_S1()))
        defer { H5Tclose(type) }
        try check.status("H5Tset_size", location, H5Tset_size(type, cnnkit_H5T_VARIABLE()))
        try check.status("H5Tset_cset", location, H5Tset_cset(type, utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII))
        var dims = [hsize_t(values.count)]
        let space = try check.id("H5Screate", location, scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, nil))
        defer { H5Sclose(space) }
        let attribute = try check.id("H5Acreate2", location, H5Acreate2(object, name, type, space, h5Default, h5Default))
        defer { H5Aclose(attribute) }
        let pointers: [UnsafeMutablePointer<CChar>?] = values.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        guard !pointers.contains(where: { $0 == nil }) else { throw check.failure("strdup", location) }
        try pointers.withUnsafeBufferPointer { buffer in
            try check.status("H5Awrite", location, H5Awrite(attribute, type, buffer.baseAddress))
        }
    }

    /// Sets the empty `float64 (0,)` attribute Keras writes as the `weight_names` of a layer without weights.
    func setEmptyList(_ object: hid_t, _ name: String, path: String) throws {
        let location = "\(path)@\(name)"
        var dims: [hsize_t] = [0]
        let space = try check.id("H5Screate_simple", location, H5Screate_simple(1, &dims, nil))
        defer { H5Sclose(space) }
        let attribute = try check.id("H5Acreate2", location, H5Acreate2(object, name, cnnkit_H5T_IEEE_F64LE(), space, h5Default, h5Default))
        H5Aclose(attribute)
    }

    /// Sets a scalar int64 attribute.
    func setInt64(_ object: hid_t, _ name: String, _ value: Int64, path: String) throws {
        try setScalar(object, name, value, fileType: cnnkit_H5T_STD_I64LE(), memoryType: cnnkit_H5T_NATIVE_INT64(), path: path)
    }

    /// Sets a scalar uint64 attribute.
    func setUInt64(_ object: hid_t, _ name: String, _ value: UInt64, path: String) throws {
        try setScalar(object, name, value, fileType: cnnkit_H5T_STD_U64LE(), memoryType: cnnkit_H5T_NATIVE_UINT64(), path: path)
    }

    private func setScalar<T>(_ object: hid_t, _ name: String, _ value: T, fileType: hid_t, memoryType: hid_t, path: String) throws {
        let location = "\(path)@\(name)"
        let space = try check.id("H5Screate", location, H5Screate(H5S_SCALAR))
        defer { H5Sclose(space) }
        let attribute = try check.id("H5Acreate2", location, H5Acreate2(object, name, fileType, space, h5Default, h5Default))
        defer { H5Aclose(attribute) }
        try withUnsafeBytes(of: value) { raw in
            try check.status("H5Awrite", location, H5Awrite(attribute, memoryType, raw.baseAddress))
        }
    }
}

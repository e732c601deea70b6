#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CHDF5
import CNNKitHDF5Driver

/// Writes groups, datasets and attributes into an HDF5 file, every call through one ``HDF5Checker``.
///
/// Objects are created without modification times (`H5Pset_obj_track_times(…, 0)`) so that the same content
/// always gives the same bytes. Strings are variable-length, UTF-8 or ASCII. Call its methods under
/// ``HDF5Library/serialized(_:)``.
package struct HDF5Sink {
    package let check: HDF5Checker
    /// How datasets are stored.
    package let compression: HDF5Compression

    /// Creates a sink writing through `check` with the given dataset storage.
    package init(check: HDF5Checker, compression: HDF5Compression) {
        self.check = check
        self.compression = compression
    }

    /// The largest chunk a compressed dataset uses, in bytes.
    package static let chunkBytes = 1 << 20

    // MARK: Files

    /// Creates `path` (`H5Fcreate`, replacing a file there) and opens its root group; the file stays open while
    /// the root group's handle (or any handle opened in the file) does.
    ///
    /// - Parameter path: the file to create, such as a temporary file beside the destination.
    /// - Returns: the root group.
    /// - Throws: ``HDF5Error/cannotCreate(file:reason:)`` naming the checker's file when `H5Fcreate` fails,
    ///   ``HDF5Error/callFailed(file:location:call:stack:writing:)`` when opening the root group fails.
    ///
    /// A `/proc/self/fd/N` path (an unnamed temporary, ``TemporaryFile``) is written through descriptor N by
    /// CNNKit's descriptor driver (`CNNKitHDF5Driver`), with the bytes libhdf5's default driver would write:
    /// libhdf5 itself resolves such a path with `realpath`, which for an unnamed file names nothing.
    package func createFile(_ path: String) throws -> HDF5Handle {
        let fapl = try check.open(.propertyList, "H5Pcreate", "/", H5Pcreate(cnnkit_H5P_FILE_ACCESS()))
        if let descriptor = Self.descriptor(inProcPath: path) {
            try check.status("H5Pset_driver", "/", cnnkit_h5_use_descriptor_driver(fapl.id, descriptor))
        }
        let result = check.timed("H5Fcreate", "/") { H5Fcreate(path, cnnkit_H5F_ACC_TRUNC(), h5Default, fapl.id) }
        guard result >= 0 else {
            throw HDF5Error.cannotCreate(file: check.file, reason: "H5Fcreate failed (\(HDF5Library.takeErrorStack()))")
        }
        let file = HDF5Handle(result, kind: .file)
        return try check.open(.group, "H5Gopen2", "/", H5Gopen2(file.id, "/", h5Default), in: file)
    }

    /// N of a `/proc/self/fd/N` path, if `path` is one.
    static func descriptor(inProcPath path: String) -> Int32? {
        let prefix = "/proc/self/fd/"
        guard path.hasPrefix(prefix), let n = Int32(path.dropFirst(prefix.count)), n >= 0 else { return nil }
        return n
    }

    /// Flushes everything written to the file that holds `object` (`H5Fflush`, global scope).
    package func flush(_ object: HDF5Handle) throws {
        try check.status("H5Fflush", "/", H5Fflush(object.id, H5F_SCOPE_GLOBAL))
    }

    // MARK: Groups

    /// Creates a group (`H5Gcreate2`).
    package func createGroup(_ parent: HDF5Handle, _ name: String, path: String) throws -> HDF5Handle {
        let gcpl = try check.open(.propertyList, "H5Pcreate", path, H5Pcreate(cnnkit_H5P_GROUP_CREATE()))
        try check.status("H5Pset_obj_track_times", path, H5Pset_obj_track_times(gcpl.id, false))
        return try check.open(.group, "H5Gcreate2", path, H5Gcreate2(parent.id, name, h5Default, gcpl.id, h5Default), in: parent)
    }

    // MARK: Datasets

    /// Writes a float32 dataset (`H5T_IEEE_F32LE`) of the given shape; chunked and filtered when compressing.
    package func writeFloats(_ parent: HDF5Handle, _ name: String, shape: [Int], scalars: [Float], path: String) throws {
        try writeDataset(parent, name, shape: shape, fileType: cnnkit_H5T_IEEE_F32LE(), memoryType: cnnkit_H5T_NATIVE_FLOAT(),
                         elementSize: 4, path: path) { pointer in try scalars.withUnsafeBytes { try pointer($0.baseAddress) } }
    }

    /// Writes a float64 dataset (`H5T_IEEE_F64LE`).
    package func writeDoubles(_ parent: HDF5Handle, _ name: String, shape: [Int], scalars: [Double], path: String) throws {
        try writeDataset(parent, name, shape: shape, fileType: cnnkit_H5T_IEEE_F64LE(), memoryType: cnnkit_H5T_NATIVE_DOUBLE(),
                         elementSize: 8, path: path) { pointer in try scalars.withUnsafeBytes { try pointer($0.baseAddress) } }
    }

    /// Writes a uint64 dataset (`H5T_STD_U64LE`).
    package func writeUInt64s(_ parent: HDF5Handle, _ name: String, shape: [Int], scalars: [UInt64], path: String) throws {
        try writeDataset(parent, name, shape: shape, fileType: cnnkit_H5T_STD_U64LE(), memoryType: cnnkit_H5T_NATIVE_UINT64(),
                         elementSize: 8, path: path) { pointer in try scalars.withUnsafeBytes { try pointer($0.baseAddress) } }
    }

    /// Writes a scalar int32 dataset (`H5T_STD_I32LE`).
    package func writeScalarInt32(_ parent: HDF5Handle, _ name: String, value: Int32, path: String) throws {
        try writeDataset(parent, name, shape: [], fileType: cnnkit_H5T_STD_I32LE(), memoryType: cnnkit_H5T_NATIVE_INT32(),
                         elementSize: 4, path: path) { pointer in try withUnsafeBytes(of: value) { try pointer($0.baseAddress) } }
    }

    /// Writes a scalar float32 dataset.
    package func writeScalarFloat(_ parent: HDF5Handle, _ name: String, value: Float, path: String) throws {
        try writeFloats(parent, name, shape: [], scalars: [value], path: path)
    }

    /// Creates a dataset (`H5Screate_simple`/`H5Screate`, `H5Dcreate2`) and writes it whole (`H5Dwrite`).
    ///
    /// The dataset is closed before this returns (`H5Dclose` writes out a compressed dataset's chunks), so
    /// datasets take their places in the file in the order they are written.
    private func writeDataset(_ parent: HDF5Handle, _ name: String, shape: [Int], fileType: hid_t, memoryType: hid_t, elementSize: Int,
                              path: String, data: ((UnsafeRawPointer?) throws -> Void) throws -> Void) throws {
        let dims = shape.map { hsize_t($0) }
        let space = try check.open(.dataspace, "H5Screate_simple", path,
                                   dims.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), dims, nil))
        let dcpl = try check.open(.propertyList, "H5Pcreate", path, H5Pcreate(cnnkit_H5P_DATASET_CREATE()))
        try check.status("H5Pset_obj_track_times", path, H5Pset_obj_track_times(dcpl.id, false))
        let count = shape.reduce(1, *)
        HDF5Library.noteDataSize(count * elementSize)
        if case let .deflate(level) = compression, !shape.isEmpty, count > 0 {
            let chunk = HDF5Sink.chunkShape(shape, elementSize: elementSize).map { hsize_t($0) }
            try check.status("H5Pset_chunk", path, H5Pset_chunk(dcpl.id, Int32(chunk.count), chunk))
            try check.status("H5Pset_shuffle", path, H5Pset_shuffle(dcpl.id))
            try check.status("H5Pset_deflate", path, H5Pset_deflate(dcpl.id, UInt32(min(max(level, 0), 9))))
            try check.status("H5Pset_fletcher32", path, H5Pset_fletcher32(dcpl.id))
        }
        let dataset = try check.open(.dataset, "H5Dcreate2", path,
                                     H5Dcreate2(parent.id, name, fileType, space.id, h5Default, dcpl.id, h5Default), in: parent)
        defer { dataset.close() }
        guard count > 0 else { return }
        try data { pointer in
            try check.status("H5Dwrite", path, H5Dwrite(dataset.id, memoryType, cnnkit_H5S_ALL(), cnnkit_H5S_ALL(), h5Default, pointer))
        }
    }

    /// A chunk shape of at most ``chunkBytes`` bytes: the dataset's shape with the outer axes cut down.
    package static func chunkShape(_ shape: [Int], elementSize: Int) -> [Int] {
        var chunk = shape
        var axis = 0
        while axis < chunk.count, chunk.reduce(elementSize, *) > chunkBytes {
            if chunk[axis] > 1 { chunk[axis] = (chunk[axis] + 1) / 2 } else { axis += 1 }
        }
        return chunk
    }

    // MARK: Attributes

    /// Sets a scalar variable-length string attribute (`H5Acreate2`, `H5Awrite`).
    package func setString(_ object: HDF5Handle, _ name: String, _ value: String, utf8: Bool = true, path: String) throws {
        try setStrings(object, name, [value], scalar: true, utf8: utf8, path: path)
    }

    /// Sets a one-dimensional variable-length string attribute (a list of names).
    package func setStringList(_ object: HDF5Handle, _ name: String, _ values: [String], utf8: Bool = false, path: String) throws {
        try setStrings(object, name, values, scalar: false, utf8: utf8, path: path)
    }

    private func setStrings(_ object: HDF5Handle, _ name: String, _ values: [String], scalar: Bool, utf8: Bool, path: String) throws {
        let location = "\(path)@\(name)"
        let type = try check.open(.datatype, "H5Tcopy", location, H5Tcopy(cnnkit_H5T_C_S1()))
        try check.status("H5Tset_size", location, H5Tset_size(type.id, cnnkit_H5T_VARIABLE()))
        try check.status("H5Tset_cset", location, H5Tset_cset(type.id, utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII))
        var dims = [hsize_t(values.count)]
        let space = try check.open(.dataspace, "H5Screate", location, scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, nil))
        let attribute = try check.open(.attribute, "H5Acreate2", location,
                                       H5Acreate2(object.id, name, type.id, space.id, h5Default, h5Default), in: object)
        let pointers: [UnsafeMutablePointer<CChar>?] = values.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        guard !pointers.contains(where: { $0 == nil }) else { throw check.failure("strdup", location) }
        try pointers.withUnsafeBufferPointer { buffer in
            try check.status("H5Awrite", location, H5Awrite(attribute.id, type.id, buffer.baseAddress))
        }
    }

    /// Sets an empty one-dimensional `float64 (0,)` attribute, the way h5py writes an empty list of names.
    package func setEmptyList(_ object: HDF5Handle, _ name: String, path: String) throws {
        let location = "\(path)@\(name)"
        var dims: [hsize_t] = [0]
        let space = try check.open(.dataspace, "H5Screate_simple", location, H5Screate_simple(1, &dims, nil))
        let attribute = try check.open(.attribute, "H5Acreate2", location,
                                       H5Acreate2(object.id, name, cnnkit_H5T_IEEE_F64LE(), space.id, h5Default, h5Default), in: object)
        attribute.close()
    }

    /// Sets a scalar int64 attribute.
    package func setInt64(_ object: HDF5Handle, _ name: String, _ value: Int64, path: String) throws {
        try setScalar(object, name, value, fileType: cnnkit_H5T_STD_I64LE(), memoryType: cnnkit_H5T_NATIVE_INT64(), path: path)
    }

    /// Sets a scalar uint64 attribute.
    package func setUInt64(_ object: HDF5Handle, _ name: String, _ value: UInt64, path: String) throws {
        try setScalar(object, name, value, fileType: cnnkit_H5T_STD_U64LE(), memoryType: cnnkit_H5T_NATIVE_UINT64(), path: path)
    }

    private func setScalar<T>(_ object: HDF5Handle, _ name: String, _ value: T, fileType: hid_t, memoryType: hid_t, path: String) throws {
        let location = "\(path)@\(name)"
        let space = try check.open(.dataspace, "H5Screate", location, H5Screate(H5S_SCALAR))
        let attribute = try check.open(.attribute, "H5Acreate2", location,
                                       H5Acreate2(object.id, name, fileType, space.id, h5Default, h5Default), in: object)
        try withUnsafeBytes(of: value) { raw in
            try check.status("H5Awrite", location, H5Awrite(attribute.id, memoryType, raw.baseAddress))
        }
    }
}

import CHDF5
import ConvNet

extension HDF5Source {
    /// Reads every value the file holds, the way `h5dump` does: every object reachable through hard links, each
    /// of its attributes (`H5Aread`, variable-length values included) and each dataset's data (`H5Dread`, in
    /// slabs of at most ``screeningSlabBytes``), all in libhdf5's native form of the stored type.
    ///
    /// This is the screening read (``HDF5Library/screen``): a reader touches a subset of these values through the
    /// same libhdf5 code, so a file this read survives does not crash libhdf5 in the reader either. Datasets are
    /// checked first as every reader checks them (``inspect(_:path:)``); an attribute's value must fit in
    /// ``screeningAttributeBytes``.
    ///
    /// A failure does not end the read: the rest of the file is read on (what a failing object holds is
    /// skipped), since a reader may take another way to what lies beyond it.
    ///
    /// - Parameter failed: called with each failure (a call that fails, a value CNNKit's readers would refuse).
    /// - Returns: how many attributes and datasets were read whole.
    package func readEverything(failed: (Error) -> Void) -> (attributes: Int, datasets: Int) {
        HDF5Library.serialized {
            var attributes = 0, datasets = 0, visited = 0
            func walk(_ object: HDF5Handle, path: String) throws {
                visited += 1
                guard visited <= HDF5Source.maximumListCount else { throw check.refused(path, "more than \(HDF5Source.maximumListCount) objects") }
                attributes += readAttributes(of: object, path: path, failed: failed)
                switch H5Iget_type(object.id) {
                case H5I_GROUP:
                    for name in try memberNames(object, path: path) {
                        let child = path == "/" ? "/\(name)" : "\(path)/\(name)"
                        do {
                            // Soft and external links are never followed by a reader, so they are not read here.
                            guard check.timed("H5Lget_info", child, { cnnkit_h5_link_type(object.id, name) }) == Int32(H5L_TYPE_HARD.rawValue) else { continue }
                            try walk(try check.open(.object, "H5Oopen", child, H5Oopen(object.id, name, h5Default), in: object), path: child)
                        } catch {
                            failed(error)
                        }
                    }
                case H5I_DATASET:
                    do {
                        try readData(of: object, path: path)
                        datasets += 1
                    } catch {
                        failed(error)
                    }
                default:
                    break
                }
            }
            do { try walk(root, path: "/") } catch { failed(error) }
            return (attributes, datasets)
        }
    }

    /// The largest attribute value the screening read takes (CNNKit's own largest, an architecture or a probe
    /// list, is far smaller; Keras keeps its attributes under 64 KiB).
    package static let screeningAttributeBytes = 256 << 20
    /// The most bytes one `H5Dread` of the screening read asks for.
    package static let screeningSlabBytes = 16 << 20

    private func readAttributes(of object: HDF5Handle, path: String, failed: (Error) -> Void) -> Int {
        var count = 0
        let total: Int
        do {
            total = try check.count("H5Aget_num_attrs", path, H5Aget_num_attrs(object.id))
        } catch {
            failed(error)
            return 0
        }
        for index in 0..<min(total, HDF5Source.maximumListCount) {
            do {
                try readAttribute(of: object, index: index, path: path)
                count += 1
            } catch {
                failed(error)
            }
        }
        return count
    }

    private func readAttribute(of object: HDF5Handle, index: Int, path: String) throws {
            var location = "\(path)@#\(index)"
            let attribute = try check.open(.attribute, "H5Aopen_by_idx", location,
                                           H5Aopen_by_idx(object.id, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), h5Default, h5Default), in: object)
            let length = H5Aget_name(attribute.id, 0, nil)
            if length > 0 && length < 65536 {
                var name = [CChar](repeating: 0, count: length + 1)
                if H5Aget_name(attribute.id, name.count, &name) > 0 {
                    location = "\(path)@" + String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                }
            }
            let stored = try check.open(.datatype, "H5Aget_type", location, H5Aget_type(attribute.id), in: attribute)
            let memory = try check.open(.datatype, "H5Tget_native_type", location, H5Tget_native_type(stored.id, H5T_DIR_ASCEND))
            let space = try check.open(.dataspace, "H5Aget_space", location, H5Aget_space(attribute.id))
            let points = try check.count("H5Sget_simple_extent_npoints", location, H5Sget_simple_extent_npoints(space.id))
            let size = try check.size("H5Tget_size", location, H5Tget_size(memory.id))
            let (bytes, overflow) = points.multipliedReportingOverflow(by: size)
            guard !overflow, bytes <= HDF5Source.screeningAttributeBytes else {
                throw check.refused(location, "attribute of \(points) elements of \(size) bytes")
            }
            try read("H5Aread", bytes: bytes, type: memory, space: space, location: location) { buffer in
                H5Aread(attribute.id, memory.id, buffer)
            }
    }

    private func readData(of dataset: HDF5Handle, path: String) throws {
        let info = try inspect(dataset, path: path)
        let stored = try check.open(.datatype, "H5Dget_type", path, H5Dget_type(dataset.id), in: dataset)
        let memory = try check.open(.datatype, "H5Tget_native_type", path, H5Tget_native_type(stored.id, H5T_DIR_ASCEND))
        let size = try check.size("H5Tget_size", path, H5Tget_size(memory.id))
        guard info.count > 0 else { return }
        let fileSpace = try check.open(.dataspace, "H5Dget_space", path, H5Dget_space(dataset.id))
        // Slabs along the first dimension; a scalar or a single row larger than a slab is one read.
        let rows = info.shape.first ?? 1
        let rowElements = info.shape.isEmpty ? 1 : info.count / max(rows, 1)
        let rowsPerSlab = max(1, HDF5Source.screeningSlabBytes / max(1, rowElements * size))
        var start = 0
        while start < rows {
            let take = min(rowsPerSlab, rows - start)
            let elements = take * rowElements
            if info.shape.isEmpty {
                try read("H5Dread", bytes: size, type: memory, space: fileSpace, location: path) { buffer in
                    H5Dread(dataset.id, memory.id, cnnkit_H5S_ALL(), cnnkit_H5S_ALL(), h5Default, buffer)
                }
            } else {
                var offset = [hsize_t](repeating: 0, count: info.shape.count), extent = info.shape.map { hsize_t($0) }
                offset[0] = hsize_t(start)
                extent[0] = hsize_t(take)
                try check.status("H5Sselect_hyperslab", path, H5Sselect_hyperslab(fileSpace.id, H5S_SELECT_SET, offset, nil, extent, nil))
                let memorySpace = try check.open(.dataspace, "H5Screate_simple", path, H5Screate_simple(Int32(extent.count), extent, nil))
                try read("H5Dread", bytes: elements * size, type: memory, space: memorySpace, location: path) { buffer in
                    H5Dread(dataset.id, memory.id, memorySpace.id, fileSpace.id, h5Default, buffer)
                }
            }
            start += take
        }
    }

    /// Reads into a zeroed buffer of `bytes` bytes, then frees what libhdf5 allocated for variable-length values.
    private func read(_ call: String, bytes: Int, type: HDF5Handle, space: HDF5Handle, location: String,
                      _ body: (UnsafeMutableRawPointer) -> herr_t) throws {
        guard bytes > 0 else { return }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        try check.status(call, location, body(buffer))
        if H5Tdetect_class(type.id, H5T_VLEN) > 0 || H5Tis_variable_str(type.id) > 0 {
            _ = H5Dvlen_reclaim(type.id, space.id, h5Default, buffer)
        }
    }
}

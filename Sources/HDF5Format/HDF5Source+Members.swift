import CHDF5

extension HDF5Source {
    /// The names of the links in a group, in name order (`H5Gget_info`, `H5Lget_name_by_idx`); at most
    /// ``maximumListCount`` of them.
    ///
    /// - Throws: ``HDF5Error/refused(file:location:reason:)`` for a group with more links or a name longer than
    ///   64 KiB.
    package func memberNames(_ group: HDF5Handle, path: String) throws -> [String] {
        var info = H5G_info_t()
        try check.status("H5Gget_info", path, H5Gget_info(group.id, &info))
        guard let count = Int(exactly: info.nlinks), count <= HDF5Source.maximumListCount else {
            throw check.refused(path, "group with \(info.nlinks) links")
        }
        var names: [String] = []
        names.reserveCapacity(count)
        for index in 0..<count {
            let length = try check.count("H5Lget_name_by_idx", path,
                                         H5Lget_name_by_idx(group.id, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), nil, 0, h5Default))
            guard length < 65536 else { throw check.refused(path, "link name of \(length) bytes") }
            var buffer = [CChar](repeating: 0, count: length + 1)
            _ = try check.count("H5Lget_name_by_idx", path,
                                H5Lget_name_by_idx(group.id, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), &buffer, buffer.count, h5Default))
            names.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return names
    }

    /// Calls `body` with the name of each of an object's attributes, in name order (`H5Aget_num_attrs`,
    /// `H5Aget_name_by_idx`); at most ``maximumListCount`` of them. Each name is read right before its call, so an
    /// error `body` throws for one attribute comes before any refusal of a later one.
    ///
    /// - Throws: ``HDF5Error/refused(file:location:reason:)`` for an object with more attributes or a name longer
    ///   than 64 KiB, or what `body` throws.
    package func forEachAttributeName(_ object: HDF5Handle, path: String, _ body: (String) throws -> Void) throws {
        let count = try check.count("H5Aget_num_attrs", path, H5Aget_num_attrs(object.id))
        guard count <= HDF5Source.maximumListCount else { throw check.refused(path, "\(count) attributes") }
        for index in 0..<count {
            let length = try check.count("H5Aget_name_by_idx", path,
                                         H5Aget_name_by_idx(object.id, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), nil, 0, h5Default))
            guard length < 65536 else { throw check.refused(path, "attribute name of \(length) bytes") }
            var buffer = [CChar](repeating: 0, count: length + 1)
            _ = try check.count("H5Aget_name_by_idx", path,
                                H5Aget_name_by_idx(object.id, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), &buffer, buffer.count, h5Default))
            try body(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }
}

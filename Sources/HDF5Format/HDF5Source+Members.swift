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
            names.append(try name("H5Lget_name_by_idx", "link", path: path) { buffer, size in
                H5Lget_name_by_idx(group.id, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), buffer, size, h5Default)
            })
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
            try body(try name("H5Aget_name_by_idx", "attribute", path: path) { buffer, size in
                H5Aget_name_by_idx(object.id, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(index), buffer, size, h5Default)
            })
        }
    }

    /// Whether the object `name` in `parent` is a dataset, or a group with a dataset somewhere below it (hard links
    /// only, at most 32 levels and ``maximumListCount`` links per group).
    package func holdsDataset(_ parent: HDF5Handle, _ name: String, path: String, depth: Int = 0) throws -> Bool {
        guard depth < 32, try exists(parent, name, path: path) else { return false }
        let object = try check.open(.object, "H5Oopen", path, H5Oopen(parent.id, name, h5Default), in: parent)
        switch H5Iget_type(object.id) {
        case H5I_DATASET:
            return true
        case H5I_GROUP:
            for member in try memberNames(object, path: path) where try holdsDataset(object, member, path: "\(path)/\(member)", depth: depth + 1) {
                return true
            }
            return false
        default:
            return false
        }
    }

    /// A name read with one of libhdf5's two-call getters: `get(nil, 0)` gives its length, then `get(buffer, size)`
    /// fills it. Names of 64 KiB or more are refused.
    private func name(_ call: String, _ what: String, path: String, _ get: (UnsafeMutablePointer<CChar>?, Int) -> Int) throws -> String {
        let length = try check.count(call, path, get(nil, 0))
        guard length < 65536 else { throw check.refused(path, "\(what) name of \(length) bytes") }
        var buffer = [CChar](repeating: 0, count: length + 1)
        _ = try buffer.withUnsafeMutableBufferPointer { b in try check.count(call, path, get(b.baseAddress, b.count)) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

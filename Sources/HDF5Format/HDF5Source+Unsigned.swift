import CHDF5

extension HDF5Source {
    /// Reads a one-dimensional integer dataset as uint64, exactly (`H5Dread` converts; a negative value is
    /// refused rather than wrapped).
    ///
    /// - Throws: ``HDF5Error/invalid(file:location:reason:)`` for another class or rank.
    package func readUInt64s(_ root: HDF5Handle, _ relative: String, base: String) throws -> [UInt64] {
        let path = join(base, relative)
        let dataset = try openDataset(root, relative, base: base)
        let info = try inspect(dataset, path: path)
        guard info.typeClass == H5T_INTEGER, info.shape.count == 1 else {
            throw check.invalid(path, "expected a one-dimensional integer dataset, found \(describe(info.typeClass)) \(info.shape)")
        }
        let type = try check.open(.datatype, "H5Dget_type", path, H5Dget_type(dataset.id), in: dataset)
        guard H5Tget_sign(type.id) == H5T_SGN_NONE else { throw check.invalid(path, "expected unsigned integers, found signed ones") }
        var values = [UInt64](repeating: 0, count: info.count)
        if info.count > 0 {
            try values.withUnsafeMutableBytes { raw in
                try check.status("H5Dread", path, H5Dread(dataset.id, cnnkit_H5T_NATIVE_UINT64(), cnnkit_H5S_ALL(), cnnkit_H5S_ALL(), h5Default, raw.baseAddress))
            }
        }
        return values
    }

    /// Reads a scalar unsigned integer attribute as uint64, exactly, or nil when it is absent.
    package func unsignedInteger(_ object: HDF5Handle, _ name: String, path: String) throws -> UInt64? {
        guard let (attribute, type, count, location) = try openAttribute(object, name, path: path) else { return nil }
        guard H5Tget_class(type.id) == H5T_INTEGER, H5Tget_sign(type.id) == H5T_SGN_NONE, count == 1 else {
            throw check.invalid(location, "expected one unsigned integer, found \(describe(H5Tget_class(type.id))) with \(count) elements")
        }
        var value: UInt64 = 0
        try check.status("H5Aread", location, H5Aread(attribute.id, cnnkit_H5T_NATIVE_UINT64(), &value))
        return value
    }
}

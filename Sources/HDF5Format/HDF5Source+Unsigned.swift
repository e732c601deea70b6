import CHDF5

extension HDF5Source {
    /// Reads a one-dimensional integer dataset as uint64, exactly (`H5Dread` converts; a negative value is
    /// refused rather than wrapped).
    ///
    /// - Throws: ``HDF5Error/invalid(file:location:reason:)`` for another class or rank.
    package func readUInt64s(_ root: HDF5Handle, _ relative: String, base: String) throws -> [UInt64] {
        try readVector(root, relative, base: base, typeClass: H5T_INTEGER, named: "integer", as: cnnkit_H5T_NATIVE_UINT64()) { dataset, path in
            let type = try check.open(.datatype, "H5Dget_type", path, H5Dget_type(dataset.id), in: dataset)
            guard H5Tget_sign(type.id) == H5T_SGN_NONE else { throw check.invalid(path, "expected unsigned integers, found signed ones") }
        }
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

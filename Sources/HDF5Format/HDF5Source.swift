#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CHDF5
import CNNKitHDF5Driver
import ConvNet
import ModelArchive

/// Reads groups, datasets and attributes from an HDF5 file opened read-only, every call through one
/// ``HDF5Checker``.
///
/// It follows only hard links, refuses external and virtual datasets, and checks each dataspace against the
/// bytes actually stored (and the file size) before allocating anything for it. The file stays open while the
/// source (or any handle opened through it) is in use; call its methods under ``HDF5Library/serialized(_:)``.
package struct HDF5Source {
    package let check: HDF5Checker
    /// The size of the file in bytes (`H5Fget_filesize`), the bound for every allocation.
    package let fileSize: Int
    /// The root group; it keeps the file open.
    package let root: HDF5Handle

    /// The largest ratio of logical to stored bytes accepted for a chunked (compressed) dataset.
    package static let maximumCompressionRatio = Int(SafetyLimits.maxDeflateRatio)
    /// The most elements an attribute or a dataset of strings may have.
    package static let maximumListCount = 1 << 20

    // MARK: Opening

    /// Opens `path` read-only: every object is closed with the file (`H5F_CLOSE_STRONG`), so that nothing of a
    /// malformed file outlives it. The file is read through CNNKit's checked driver (`CNNKitHDF5Driver`): POSIX
    /// reads as libhdf5's default driver does them, and every global heap collection (where variable-length
    /// strings live) is checked before libhdf5 parses it, since libhdf5 1.10 loops forever on some damaged ones.
    ///
    /// - Parameters:
    ///   - path: the file to open.
    ///   - name: the file as messages call it (the path the user named, or `archive:member` for a part of another
    ///     file).
    /// - Returns: a source on the file's root group.
    /// - Throws: ``HDF5Error/missingFile(file:reason:)`` when `path` cannot be read,
    ///   ``HDF5Error/callFailed(file:location:call:stack:writing:)`` naming the call that failed (`H5Fopen` for a
    ///   file that is not HDF5).
    ///   - screened: true when the file was screened already (or is being screened): ``HDF5Library/screen`` is
    ///     not called.
    package static func open(path: String, name: String, screened: Bool = false) throws -> HDF5Source {
        guard access(path, R_OK) == 0 else { throw HDF5Error.missingFile(file: name, reason: errnoText()) }
        if !screened, let screen = HDF5Library.screen { try screen(path, name) }
        var info = stat()
        if stat(path, &info) == 0 { HDF5Library.noteDataSize(Int(clamping: info.st_size)) }
        return try HDF5Library.serialized {
            let check = HDF5Checker(file: name, writing: false)
            let fapl = try check.open(.propertyList, "H5Pcreate", "/", H5Pcreate(cnnkit_H5P_FILE_ACCESS()))
            try check.status("H5Pset_fclose_degree", "/", H5Pset_fclose_degree(fapl.id, H5F_CLOSE_STRONG))
            if HDF5Library.checksGlobalHeaps {
                try check.status("H5Pset_driver", "/", cnnkit_h5_use_checked_driver(fapl.id))
            }
            let file = try check.open(.file, "H5Fopen", "/", H5Fopen(path, cnnkit_H5F_ACC_RDONLY(), fapl.id))
            var size: hsize_t = 0
            try check.status("H5Fget_filesize", "/", H5Fget_filesize(file.id, &size))
            let root = try check.open(.group, "H5Gopen2", "/", H5Gopen2(file.id, "/", h5Default), in: file)
            return HDF5Source(check: check, fileSize: Int(clamping: size), root: root)
        }
    }

    // MARK: Links and objects

    /// Whether `name` exists in `parent`; a link that exists must be a hard link.
    ///
    /// - Throws: ``HDF5Error/refused(file:location:reason:)`` for a soft, external or user-defined link.
    package func exists(_ parent: HDF5Handle, _ name: String, path: String) throws -> Bool {
        guard try check.bool("H5Lexists", path, H5Lexists(parent.id, name, h5Default)) else { return false }
        let type = check.timed("H5Lget_info", path) { cnnkit_h5_link_type(parent.id, name) }
        guard type >= 0 else { throw check.failure("H5Lget_info", path) }
        switch H5L_type_t(rawValue: type) {
        case H5L_TYPE_HARD: return true
        case H5L_TYPE_SOFT: throw check.refused(path, "soft link (CNNKit follows only hard links)")
        case H5L_TYPE_EXTERNAL: throw check.refused(path, "external link to another file (CNNKit follows only hard links)")
        default: throw check.refused(path, "user-defined link type \(type) (CNNKit follows only hard links)")
        }
    }

    /// Opens the object at `components` below `root` (`H5Oopen`), following hard links only.
    ///
    /// - Throws: ``HDF5Error/invalid(file:location:reason:)`` when a component is missing.
    package func open(_ root: HDF5Handle, _ components: [String], base: String) throws -> HDF5Handle {
        try open(root, components[...], path: base)
    }

    private func open(_ parent: HDF5Handle, _ components: ArraySlice<String>, path: String) throws -> HDF5Handle {
        guard let name = components.first else {
            return try check.open(.object, "H5Oopen", path, H5Oopen(parent.id, ".", h5Default), in: parent)
        }
        let childPath = path == "/" ? "/\(name)" : "\(path)/\(name)"
        guard !name.isEmpty, name != ".", name != ".." else { throw check.invalid(childPath, "bad path component '\(name)'") }
        guard try exists(parent, name, path: childPath) else { throw check.invalid(childPath, "missing (required by the layout)") }
        let child = try check.open(.object, "H5Oopen", childPath, H5Oopen(parent.id, name, h5Default), in: parent)
        if components.count == 1 { return child }
        return try open(child, components.dropFirst(), path: childPath)
    }

    /// Opens a group at a slash-separated path relative to `root`, checking that it is a group.
    package func openGroup(_ root: HDF5Handle, _ relative: String, base: String) throws -> HDF5Handle {
        let object = try open(root, split(relative), base: base)
        guard H5Iget_type(object.id) == H5I_GROUP else {
            throw check.invalid(join(base, relative), "expected a group, found another kind of object")
        }
        return object
    }

    /// Opens a dataset at a slash-separated path relative to `root`, checking that it is a dataset.
    package func openDataset(_ root: HDF5Handle, _ relative: String, base: String) throws -> HDF5Handle {
        let object = try open(root, split(relative), base: base)
        guard H5Iget_type(object.id) == H5I_DATASET else {
            throw check.invalid(join(base, relative), "expected a dataset, found another kind of object")
        }
        return object
    }

    package func split(_ path: String) -> [String] { path.split(separator: "/", omittingEmptySubsequences: true).map(String.init) }

    package func join(_ base: String, _ relative: String) -> String {
        base == "/" ? "/" + relative : base + "/" + relative
    }

    // MARK: Datasets

    /// What a dataset holds, checked against the bytes stored for it.
    package struct DatasetInfo {
        /// The extent, `[]` for a scalar.
        package var shape: [Int]
        /// The number of elements.
        package var count: Int
        package var typeClass: H5T_class_t
        /// The size of one element in the file, in bytes.
        package var typeSize: Int
    }

    /// Checks a dataset before reading: no external file, no virtual layout, a simple or scalar dataspace whose
    /// logical size is backed by stored bytes (`H5Dget_storage_size`) within the file.
    package func inspect(_ dataset: HDF5Handle, path: String) throws -> DatasetInfo {
        let dcpl = try check.open(.propertyList, "H5Dget_create_plist", path, H5Dget_create_plist(dataset.id))
        let externals = try check.count("H5Pget_external_count", path, H5Pget_external_count(dcpl.id))
        guard externals == 0 else { throw check.refused(path, "external dataset (its data lives in \(externals) other file(s))") }
        let layout = H5Pget_layout(dcpl.id)
        guard layout != H5D_LAYOUT_ERROR else { throw check.failure("H5Pget_layout", path) }
        guard layout != H5D_VIRTUAL else { throw check.refused(path, "virtual dataset (its data is mapped from other datasets)") }

        let space = try check.open(.dataspace, "H5Dget_space", path, H5Dget_space(dataset.id))
        let shape = try dataspaceShape(space, path: path)
        let type = try check.open(.datatype, "H5Dget_type", path, H5Dget_type(dataset.id), in: dataset)
        let typeClass = H5Tget_class(type.id)
        guard typeClass != H5T_NO_CLASS else { throw check.failure("H5Tget_class", path) }
        let typeSize = try check.size("H5Tget_size", path, H5Tget_size(type.id))
        try checkStandardNumber(type, typeClass: typeClass, size: typeSize, path: path)

        guard let count = Tensor.elementCount(shape), count <= Architecture.maximumElementCount else {
            throw check.refused(path, "dataspace \(shape) holds more than \(Architecture.maximumElementCount) elements")
        }
        let (logical, overflow) = count.multipliedReportingOverflow(by: typeSize)
        guard !overflow else { throw check.refused(path, "dataspace \(shape) of \(typeSize)-byte elements overflows") }
        let stored = Int(clamping: check.timed("H5Dget_storage_size", path) { H5Dget_storage_size(dataset.id) })
        guard stored <= fileSize else {
            throw check.refused(path, "dataset claims \(stored) stored bytes, but the file has \(fileSize)")
        }
        if layout == H5D_CHUNKED {
            let (bound, big) = stored.multipliedReportingOverflow(by: HDF5Source.maximumCompressionRatio)
            guard logical == 0 || (stored > 0 && (big || logical <= bound)) else {
                throw check.refused(path, "dataspace \(shape) needs \(logical) bytes, but only \(stored) compressed bytes are stored")
            }
        } else {
            guard logical <= stored else {
                throw check.refused(path, "dataspace \(shape) needs \(logical) bytes, but only \(stored) bytes are stored")
            }
        }
        return DatasetInfo(shape: shape, count: count, typeClass: typeClass, typeSize: typeSize)
    }

    /// Checks that an integer or floating-point datatype is a standard one: an integer uses every bit of its
    /// bytes from bit 0, a float is IEEE 754 binary16, binary32 or binary64 (either byte order). libhdf5 1.10 reads
    /// other layouts without a word (a 4-byte float declaring 0 bits of precision reads as if it were float32),
    /// while libhdf5 1.14, and so h5py and Keras, refuse them: such a datatype message is damaged.
    ///
    /// - Throws: ``HDF5Error/invalid(file:location:reason:)`` naming what the datatype declares.
    package func checkStandardNumber(_ type: HDF5Handle, typeClass: H5T_class_t, size: Int, path: String) throws {
        guard typeClass == H5T_INTEGER || typeClass == H5T_FLOAT else { return }
        let precision = H5Tget_precision(type.id), offset = H5Tget_offset(type.id)
        guard precision == size * 8, offset == 0 else {
            throw check.invalid(path, "damaged datatype: a \(size)-byte \(describe(typeClass)) declares \(precision) bits of precision at bit offset \(offset) (expected \(size * 8) at 0)")
        }
        guard typeClass == H5T_FLOAT else { return }
        // Sign position, exponent position and size, mantissa position and size, exponent bias.
        let ieee: [Int: [Int]] = [2: [15, 10, 5, 0, 10, 15], 4: [31, 23, 8, 0, 23, 127], 8: [63, 52, 11, 0, 52, 1023]]
        var sign = 0, exponentAt = 0, exponentBits = 0, mantissaAt = 0, mantissaBits = 0
        guard H5Tget_fields(type.id, &sign, &exponentAt, &exponentBits, &mantissaAt, &mantissaBits) >= 0 else {
            throw check.failure("H5Tget_fields", path)
        }
        let found = [sign, exponentAt, exponentBits, mantissaAt, mantissaBits, H5Tget_ebias(type.id)]
        guard let expected = ieee[size], found == expected else {
            throw check.invalid(path, "damaged or unsupported datatype: a \(size)-byte float with sign bit \(sign), exponent \(exponentBits) bits at \(exponentAt), mantissa \(mantissaBits) bits at \(mantissaAt), bias \(found[5]) (CNNKit reads IEEE 754 binary16, binary32 and binary64)")
        }
    }

    /// The extent of a dataspace: `[]` for a scalar, the dimensions for a simple one.
    package func dataspaceShape(_ space: HDF5Handle, path: String) throws -> [Int] {
        let kind = H5Sget_simple_extent_type(space.id)
        switch kind {
        case H5S_SCALAR:
            return []
        case H5S_SIMPLE:
            let rank = try check.count("H5Sget_simple_extent_ndims", path, H5Sget_simple_extent_ndims(space.id))
            guard rank <= 32 else { throw check.invalid(path, "rank \(rank) is above HDF5's limit of 32") }
            var dims = [hsize_t](repeating: 0, count: max(rank, 1))
            _ = try check.count("H5Sget_simple_extent_dims", path, H5Sget_simple_extent_dims(space.id, &dims, nil))
            return try dims.prefix(rank).map { d in
                guard let extent = Int(exactly: d) else { throw check.refused(path, "dimension \(d) is too large") }
                return extent
            }
        case H5S_NULL:
            throw check.invalid(path, "expected data, found a null dataspace")
        default:
            throw check.failure("H5Sget_simple_extent_type", path)
        }
    }

    /// Reads a floating-point dataset of any width and byte order as float32 (`H5Dread` converts).
    ///
    /// - Parameter expected: the shape required, checked before reading; nil accepts any shape.
    package func readFloats(_ root: HDF5Handle, _ relative: String, base: String, expected: [Int]? = nil) throws -> Tensor {
        let path = join(base, relative)
        let dataset = try openDataset(root, relative, base: base)
        let info = try inspect(dataset, path: path)
        guard info.typeClass == H5T_FLOAT else { throw check.invalid(path, "expected a floating-point dataset, found \(describe(info.typeClass))") }
        if let expected, expected != info.shape {
            throw check.invalid(path, "expected shape \(expected), found \(info.shape)")
        }
        var scalars = [Float](repeating: 0, count: info.count)
        if info.count > 0 {
            try scalars.withUnsafeMutableBytes { raw in
                try check.status("H5Dread", path, H5Dread(dataset.id, cnnkit_H5T_NATIVE_FLOAT(), cnnkit_H5S_ALL(), cnnkit_H5S_ALL(), h5Default, raw.baseAddress))
            }
        }
        return Tensor(shape: info.shape, scalars: scalars)
    }

    /// Reads a one-dimensional floating-point dataset as float64.
    package func readDoubles(_ root: HDF5Handle, _ relative: String, base: String) throws -> [Double] {
        try readVector(root, relative, base: base, typeClass: H5T_FLOAT, named: "float", as: cnnkit_H5T_NATIVE_DOUBLE())
    }

    /// Reads a one-dimensional dataset of class `typeClass` (`named` in messages), converted by `H5Dread` to the
    /// memory type `memoryType` of `T`, after `accept` has checked the open dataset further.
    func readVector<T: Numeric>(_ root: HDF5Handle, _ relative: String, base: String, typeClass: H5T_class_t, named: String,
                                as memoryType: hid_t, accept: (HDF5Handle, String) throws -> Void = { _, _ in }) throws -> [T] {
        let path = join(base, relative)
        let dataset = try openDataset(root, relative, base: base)
        let info = try inspect(dataset, path: path)
        guard info.typeClass == typeClass, info.shape.count == 1 else {
            throw check.invalid(path, "expected a one-dimensional \(named) dataset, found \(describe(info.typeClass)) \(info.shape)")
        }
        try accept(dataset, path)
        var values = [T](repeating: 0, count: info.count)
        if info.count > 0 {
            try values.withUnsafeMutableBytes { raw in
                try check.status("H5Dread", path, H5Dread(dataset.id, memoryType, cnnkit_H5S_ALL(), cnnkit_H5S_ALL(), h5Default, raw.baseAddress))
            }
        }
        return values
    }

    /// Reads a scalar (or one-element) integer dataset as Int64.
    package func readInteger(_ root: HDF5Handle, _ relative: String, base: String) throws -> Int64 {
        let path = join(base, relative)
        let dataset = try openDataset(root, relative, base: base)
        let info = try inspect(dataset, path: path)
        guard info.typeClass == H5T_INTEGER, info.count == 1 else {
            throw check.invalid(path, "expected one integer, found \(describe(info.typeClass)) \(info.shape)")
        }
        var value: Int64 = 0
        try check.status("H5Dread", path, H5Dread(dataset.id, cnnkit_H5T_NATIVE_INT64(), cnnkit_H5S_ALL(), cnnkit_H5S_ALL(), h5Default, &value))
        return value
    }

    /// Reads a scalar (or one-element) floating-point dataset as float32.
    package func readScalarFloat(_ root: HDF5Handle, _ relative: String, base: String) throws -> Float {
        let tensor = try readFloats(root, relative, base: base)
        guard tensor.scalars.count == 1, let value = tensor.scalars.first else {
            throw check.invalid(join(base, relative), "expected one float, found shape \(tensor.shape)")
        }
        return value
    }

    // MARK: Attributes

    /// Reads a string attribute (fixed or variable length, scalar or one element), or nil when it is absent.
    package func string(_ object: HDF5Handle, _ name: String, path: String) throws -> String? {
        guard let list = try strings(object, name, path: path, allowEmptyNumeric: false) else { return nil }
        guard list.count == 1, let value = list.first else {
            throw check.invalid("\(path)@\(name)", "expected one string, found \(list.count)")
        }
        return value
    }

    /// Reads a list of strings (fixed or variable length), or nil when the attribute is absent. An empty
    /// numeric array (such as an empty list of names written as `float64 (0,)`) reads as an empty list.
    package func strings(_ object: HDF5Handle, _ name: String, path: String, allowEmptyNumeric: Bool = true) throws -> [String]? {
        let location = "\(path)@\(name)"
        guard try check.bool("H5Aexists", location, H5Aexists(object.id, name)) else { return nil }
        let attribute = try check.open(.attribute, "H5Aopen", location, H5Aopen(object.id, name, h5Default), in: object)
        let space = try check.open(.dataspace, "H5Aget_space", location, H5Aget_space(attribute.id))
        let count = try check.count("H5Sget_simple_extent_npoints", location, H5Sget_simple_extent_npoints(space.id))
        guard count <= HDF5Source.maximumListCount else { throw check.refused(location, "\(count) strings is more than \(HDF5Source.maximumListCount)") }
        let type = try check.open(.datatype, "H5Aget_type", location, H5Aget_type(attribute.id), in: attribute)
        let typeClass = H5Tget_class(type.id)
        guard typeClass == H5T_STRING else {
            if allowEmptyNumeric && count == 0 { return [] }
            throw check.invalid(location, "expected a string attribute, found \(describe(typeClass))")
        }
        guard count > 0 else { return [] }
        let memory = try check.open(.datatype, "H5Tcopy", location, H5Tcopy(cnnkit_H5T_C_S1()))
        let cset = H5Tget_cset(type.id)
        try check.status("H5Tset_cset", location, H5Tset_cset(memory.id, cset == H5T_CSET_UTF8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII))
        if try check.bool("H5Tis_variable_str", location, H5Tis_variable_str(type.id)) {
            try check.status("H5Tset_size", location, H5Tset_size(memory.id, cnnkit_H5T_VARIABLE()))
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            try check.status("H5Aread", location, H5Aread(attribute.id, memory.id, &pointers))
            defer { _ = check.timed("H5Dvlen_reclaim", location) { H5Dvlen_reclaim(memory.id, space.id, h5Default, &pointers) } }
            return pointers.map { $0.map { String(cString: $0) } ?? "" }
        }
        let size = try check.size("H5Tget_size", location, H5Tget_size(type.id))
        let (total, overflow) = size.multipliedReportingOverflow(by: count)
        guard !overflow, total <= fileSize else {
            throw check.refused(location, "\(count) fixed strings of \(size) bytes exceed the file's \(fileSize) bytes")
        }
        try check.status("H5Tset_size", location, H5Tset_size(memory.id, size))
        try check.status("H5Tset_strpad", location, H5Tset_strpad(memory.id, H5T_STR_NULLPAD))
        var bytes = [UInt8](repeating: 0, count: total)
        try bytes.withUnsafeMutableBytes { raw in
            try check.status("H5Aread", location, H5Aread(attribute.id, memory.id, raw.baseAddress))
        }
        let spacePadded = H5Tget_strpad(type.id) == H5T_STR_SPACEPAD
        return (0..<count).map { index in
            var item = bytes[(index * size)..<((index + 1) * size)].prefix { $0 != 0 }
            if spacePadded { while item.last == 0x20 { item = item.dropLast() } }
            return String(decoding: item, as: UTF8.self)
        }
    }

    /// Opens an attribute if it exists: the attribute, its datatype, its number of elements and its location
    /// (`PATH@NAME`) for messages.
    package func openAttribute(_ object: HDF5Handle, _ name: String, path: String) throws -> (attribute: HDF5Handle, type: HDF5Handle, count: Int, location: String)? {
        let location = "\(path)@\(name)"
        guard try check.bool("H5Aexists", location, H5Aexists(object.id, name)) else { return nil }
        let attribute = try check.open(.attribute, "H5Aopen", location, H5Aopen(object.id, name, h5Default), in: object)
        let space = try check.open(.dataspace, "H5Aget_space", location, H5Aget_space(attribute.id))
        let type = try check.open(.datatype, "H5Aget_type", location, H5Aget_type(attribute.id), in: attribute)
        let count = try check.count("H5Sget_simple_extent_npoints", location, H5Sget_simple_extent_npoints(space.id))
        return (attribute, type, count, location)
    }

    /// Reads a scalar integer attribute, or nil when it is absent.
    package func integer(_ object: HDF5Handle, _ name: String, path: String) throws -> Int64? {
        guard let (attribute, type, count, location) = try openAttribute(object, name, path: path) else { return nil }
        guard H5Tget_class(type.id) == H5T_INTEGER, count == 1 else {
            throw check.invalid(location, "expected one integer, found \(describe(H5Tget_class(type.id))) with \(count) elements")
        }
        var value: Int64 = 0
        try check.status("H5Aread", location, H5Aread(attribute.id, cnnkit_H5T_NATIVE_INT64(), &value))
        return value
    }

    /// A readable name for a datatype class.
    package func describe(_ typeClass: H5T_class_t) -> String {
        switch typeClass {
        case H5T_INTEGER: "integer"
        case H5T_FLOAT: "float"
        case H5T_STRING: "string"
        case H5T_COMPOUND: "compound"
        case H5T_ENUM: "enum"
        case H5T_VLEN: "variable-length sequence"
        case H5T_ARRAY: "array"
        case H5T_REFERENCE: "reference"
        case H5T_OPAQUE: "opaque"
        case H5T_BITFIELD: "bitfield"
        default: "type class \(typeClass.rawValue)"
        }
    }
}

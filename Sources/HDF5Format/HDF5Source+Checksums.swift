import CHDF5

extension HDF5Source {
    /// How many datasets the file holds, and how many of them carry the Fletcher-32 filter (so that libhdf5
    /// checks them as they are read), walking hard links from the root; soft and external links are not
    /// followed, and at most ``maximumListCount`` objects are visited.
    ///
    /// - Throws: ``HDF5Error`` for a call that fails or a file too large to walk.
    package func checksumCensus() throws -> (datasets: Int, fletcher32: Int) {
        try HDF5Library.serialized {
            var datasets = 0, fletcher32 = 0, visited = 0
            func walk(_ group: HDF5Handle, path: String) throws {
                for name in try memberNames(group, path: path) {
                    visited += 1
                    guard visited <= HDF5Source.maximumListCount else { throw check.refused(path, "more than \(HDF5Source.maximumListCount) objects") }
                    let child = path == "/" ? "/\(name)" : "\(path)/\(name)"
                    guard check.timed("H5Lget_info", child, { cnnkit_h5_link_type(group.id, name) }) == Int32(H5L_TYPE_HARD.rawValue) else { continue }
                    let object = try check.open(.object, "H5Oopen", child, H5Oopen(group.id, name, h5Default), in: group)
                    switch H5Iget_type(object.id) {
                    case H5I_GROUP:
                        try walk(object, path: child)
                    case H5I_DATASET:
                        datasets += 1
                        let dcpl = try check.open(.propertyList, "H5Dget_create_plist", child, H5Dget_create_plist(object.id))
                        let filters = try check.count("H5Pget_nfilters", child, H5Pget_nfilters(dcpl.id))
                        for index in 0..<filters {
                            var flags: UInt32 = 0, count = 0, config: UInt32 = 0
                            if H5Pget_filter2(dcpl.id, UInt32(index), &flags, &count, nil, 0, nil, &config) == H5Z_FILTER_FLETCHER32 {
                                fletcher32 += 1
                                break
                            }
                        }
                    default:
                        break
                    }
                }
            }
            try walk(root, path: "/")
            return (datasets, fletcher32)
        }
    }
}

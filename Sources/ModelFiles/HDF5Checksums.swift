import CHDF5
import ModelArchive

/// What libhdf5 can have checked of an HDF5 file: the Fletcher-32 filter is optional per dataset (CNNKit writes it
/// with `--compression deflate`; contiguous datasets carry none), so "checksums verified" is true only of the
/// datasets that carry one.
enum HDF5Checksums {
    /// Counts the datasets of a file and those with the Fletcher-32 filter, walking every group from the root
    /// (hard links only; at most `limit` objects). Nil when the file cannot be walked.
    static func count(path: String, limit: Int = 100_000) -> (datasets: Int, fletcher32: Int)? {
        cnnkit_h5_silence()
        // The same close degree as the format's readers: libhdf5 refuses a second open of a file with another.
        let fapl = H5Pcreate(cnnkit_H5P_FILE_ACCESS())
        guard fapl >= 0 else { return nil }
        defer { H5Pclose(fapl) }
        guard H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0 else { return nil }
        let file = H5Fopen(path, cnnkit_H5F_ACC_RDONLY(), fapl)
        guard file >= 0 else { return nil }
        defer { H5Fclose(file) }
        var datasets = 0, fletcher = 0, visited = 0
        func walk(_ group: hid_t) -> Bool {
            var info = H5G_info_t()
            guard H5Gget_info(group, &info) >= 0 else { return false }
            for index in 0..<info.nlinks {
                visited += 1
                guard visited <= limit else { return false }
                let length = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, cnnkit_H5P_DEFAULT())
                guard length >= 0, length < 65536 else { return false }
                var buffer = [CChar](repeating: 0, count: Int(length) + 1)
                _ = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buffer, buffer.count, cnnkit_H5P_DEFAULT())
                guard cnnkit_h5_link_type(group, buffer) == Int32(H5L_TYPE_HARD.rawValue) else { continue }
                let object = H5Oopen(group, buffer, cnnkit_H5P_DEFAULT())
                guard object >= 0 else { return false }
                defer { H5Oclose(object) }
                switch H5Iget_type(object) {
                case H5I_GROUP:
                    guard walk(object) else { return false }
                case H5I_DATASET:
                    datasets += 1
                    let plist = H5Dget_create_plist(object)
                    guard plist >= 0 else { return false }
                    defer { H5Pclose(plist) }
                    for f in 0..<max(H5Pget_nfilters(plist), 0) {
                        var flags: UInt32 = 0, count = 0
                        var config: UInt32 = 0
                        if H5Pget_filter2(plist, UInt32(f), &flags, &count, nil, 0, nil, &config) == H5Z_FILTER_FLETCHER32 {
                            fletcher += 1
                            break
                        }
                    }
                default:
                    break
                }
            }
            return true
        }
        guard walk(file) else { return nil }
        return (datasets, fletcher)
    }

    /// The integrity line of `inspect` and the `parse` check of `verify` for an HDF5 file.
    static func integrity(path: String, fallback: String) -> String {
        guard let (datasets, fletcher) = count(path: path) else { return fallback }
        if fletcher == 0 {
            return "hdf5 file read; none of its \(datasets) datasets carries a Fletcher-32 checksum, so libhdf5 verified no checksum (CNNKit adds them with --compression deflate)"
        }
        return "hdf5 file read; Fletcher-32 checksums of \(fletcher) of \(datasets) datasets verified by libhdf5 as they were read"
            + (fletcher < datasets ? " (the other \(datasets - fletcher) carry none)" : "")
    }
}

extension OpenedModel {
    /// What reading this file proves about its integrity, as `inspect` and `verify` say it: the format's
    /// ``ModelFileFormat/integrity``, made exact for HDF5 files (which datasets carry Fletcher-32 checksums).
    public var integrity: String {
        format.format == .hdf5 ? HDF5Checksums.integrity(path: path, fallback: format.integrity) : format.integrity
    }
}

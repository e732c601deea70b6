/// How datasets are stored in a written HDF5 file.
public enum HDF5Compression: Sendable, Hashable {
    /// Contiguous datasets without filters, as h5py writes them by default.
    case none
    /// Chunked datasets with the shuffle, deflate (gzip, `level` 0-9) and Fletcher-32 checksum filters, which
    /// every libhdf5 build (and so h5py) reads.
    case deflate(level: Int)
}

/// Options for writing an HDF5 file: how its datasets are stored.
public struct HDF5WriteOptions: Sendable, Hashable {
    /// Dataset storage; scalars and empty datasets are always contiguous.
    public var compression: HDF5Compression

    /// Creates write options.
    ///
    /// - Parameter compression: ``HDF5Compression/none`` (contiguous) by default.
    public init(compression: HDF5Compression = .none) {
        self.compression = compression
    }
}

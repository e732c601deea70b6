/// How datasets are stored in a written HDF5 file.
public enum HDF5Compression: Sendable, Hashable {
    /// Contiguous datasets without filters, as Keras writes them.
    case none
    /// Chunked datasets with the shuffle, deflate (gzip, `level` 0-9) and Fletcher-32 checksum filters, which
    /// h5py, Keras and every libhdf5 build read.
    case deflate(level: Int)
}

/// Options for ``HDF5Model/write(_:to:options:)``.
public struct HDF5WriteOptions: Sendable, Hashable {
    /// Dataset storage; scalars and empty datasets are always contiguous.
    public var compression: HDF5Compression

    /// Creates write options.
    ///
    /// - Parameter compression: ``HDF5Compression/none`` (contiguous, like Keras) by default.
    public init(compression: HDF5Compression = .none) {
        self.compression = compression
    }
}

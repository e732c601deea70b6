/// Why a data set could not be loaded, with what a person needs to fix it.
public enum DatasetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A data set file that does not exist, with the Debian package that provides it.
    case datasetMissing(path: String, package: String)
    /// A data set file that cannot be read (permissions, I/O).
    case datasetUnreadable(path: String, reason: String)
    /// A data set file whose contents are not what its header or format promises.
    case datasetCorrupt(path: String, offset: Int, reason: String)

    public var description: String {
        switch self {
        case let .datasetMissing(path, package):
            "\(path): no such file; install the data with 'apt-get install -y \(package)'"
        case let .datasetUnreadable(path, reason):
            "\(path): cannot read: \(reason)"
        case let .datasetCorrupt(path, offset, reason):
            "\(path): at byte \(offset): \(reason)"
        }
    }
}

/// A file format's name, as `--to`, reports and errors spell it (`hdf5`, `cnnz`, ...).
///
/// This module knows no concrete format: each format module defines its own name as a static member
/// (`ModelFormat.cnnz` in CNNZFormat) beside its ``ModelFileFormat``, and `ModelFiles` lists the formats.
public struct ModelFormat: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }
}

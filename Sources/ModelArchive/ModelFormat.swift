/// A file format's name, as `--to`, reports and errors spell it (`hdf5`, `cnnz`, ...).
///
/// This module knows no concrete format: each format module names its own in its ``ModelFileFormat``'s
/// ``FormatInfo`` (`"cnnz"` in CNNZFormat), and `ModelFiles` lists the formats.
public struct ModelFormat: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The name (`hdf5`).
    public let rawValue: String

    /// A format name.
    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    /// A format name written as a string literal.
    public init(stringLiteral value: String) {
        self.rawValue = value
    }

    public var description: String { rawValue }
}

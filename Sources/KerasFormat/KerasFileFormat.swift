import ConvNet
import HDF5Format
import ModelArchive

/// The `.keras` format: a zip whose first members name Keras' files. The weights are an HDF5 file inside the zip,
/// extracted to (or written into) a temporary file and read (or written) there one tensor at a time.
public struct KerasFileFormat: ModelFileFormat {
    public init() {}

    public let info = FormatInfo(format: "keras", displayName: "Keras", extensions: ["keras"], capabilities: .init(compression: true, trainingState: true),
        integrity: "keras zip read; member CRC-32 verified")

    /// A zip (local file header `PK\3\4`) naming `config.json`, `metadata.json` or `model.weights.h5` near its start.
    public func recognizes(prefix: [UInt8]) -> Bool {
        guard prefix.starts(with: [0x50, 0x4B, 0x03, 0x04]) else { return false }
        let text = String(decoding: prefix.prefix(4096), as: UTF8.self)
        return text.contains("config.json") || text.contains("metadata.json") || text.contains("model.weights.h5")
    }

    public func openReader(path: String, architecture: Architecture?) throws -> any TensorStreamReader {
        try KerasArchive.open(path: path)
    }

    public func write(_ model: StreamedModel, to path: String, options: SaveOptions) throws {
        try check(options, path: path)
        try KerasArchive.write(model, to: path,
                               options: HDF5WriteOptions(compression: options.compress ? .deflate(level: options.level) : .none))
    }
}

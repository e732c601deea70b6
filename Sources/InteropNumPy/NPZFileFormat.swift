import ConvNet
import ModelArchive

/// The npz format: a zip of `.npy` members (any zip that no other format claims first).
public struct NPZFileFormat: ModelFileFormat {
    public init() {}

    /// Recognised by a zip local file header `PK\3\4`.
    public let info = FormatInfo(format: "npz", displayName: "npz", extensions: ["npz"], capabilities: .init(compression: true, trainingState: true),
        integrity: "npz zip read; member CRC-32 verified", magic: [0x50, 0x4B, 0x03, 0x04])

    public func openReader(path: String, architecture: Architecture?) throws -> any TensorStreamReader {
        try NPZTensorReader(path: path, architecture: architecture)
    }

    public func write(_ model: StreamedModel, to path: String, options: SaveOptions) throws {
        try check(options, path: path)
        try NPZWriter.write(model, to: path, compress: options.compress)
    }
}

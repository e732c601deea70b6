import ConvNet
import ModelArchive

/// The npz format: a zip of `.npy` members (any zip that no other format claims first).
public struct NPZFileFormat: ModelFileFormat {
    public init() {}

    public let info = FormatInfo(
        format: "npz", displayName: "npz", extensions: ["npz"],
        capabilities: .init(reads: true, writes: true, compression: true, trainingState: true, streamsReads: true, streamsWrites: true),
        integrity: "npz zip read; member CRC-32 verified")

    /// A zip local file header `PK\3\4`.
    public func recognizes(prefix: [UInt8]) -> Bool {
        prefix.starts(with: [0x50, 0x4B, 0x03, 0x04])
    }

    public func openReader(path: String, architecture: Architecture?) throws -> any TensorStreamReader {
        try NPZTensorReader(path: path, architecture: architecture)
    }

    public func write(_ model: StreamedModel, to path: String, options: SaveOptions) throws {
        try check(options, path: path)
        try NPZWriter.write(model, to: path, compress: options.compress)
    }
}

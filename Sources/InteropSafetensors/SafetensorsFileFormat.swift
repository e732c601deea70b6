import ConvNet
import ModelArchive

/// The safetensors format: a little-endian header length, a JSON header, then the tensors' bytes.
public struct SafetensorsFileFormat: ModelFileFormat {
    public init() {}

    public let info = FormatInfo(format: "safetensors", displayName: "safetensors", extensions: ["safetensors"], capabilities: .init(compression: false, trainingState: true),
        integrity: "safetensors file read; header and offsets validated (the format has no checksums)")

    /// A little-endian UInt64 header length (2 to 10^8) followed by `{`.
    public func recognizes(prefix: [UInt8]) -> Bool {
        guard prefix.count >= 9 else { return false }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(prefix[i]) << (8 * UInt64(i)) }
        return length > 1 && length < 100_000_000 && prefix[8] == UInt8(ascii: "{")
    }

    public func openReader(path: String, architecture: Architecture?) throws -> any TensorStreamReader {
        try SafetensorsTensorReader(path: path, architecture: architecture)
    }

    public func write(_ model: StreamedModel, to path: String, options: SaveOptions) throws {
        try check(options, path: path)
        try SafetensorsModel.write(model, to: path)
    }
}

import ConvNet
import ModelArchive

extension ModelFormat {
    /// CNNZ, CNNKit's own checksummed, compressed format (`Schemas/cnnz.md`).
    public static let cnnz = ModelFormat(rawValue: "cnnz")
}

/// The CNNZ format: recognised by its magic, read and written one tensor at a time.
public struct CNNZFileFormat: ModelFileFormat {
    public init() {}

    public var format: ModelFormat { .cnnz }
    public var displayName: String { "CNNZ" }
    public var extensions: [String] { ["cnnz"] }
    public var capabilities: FormatCapabilities {
        FormatCapabilities(reads: true, writes: true, dtypes: StorageDType.allCases, compression: true, compressesByDefault: true, trainingState: true,
                           streamsReads: true, streamsWrites: true)
    }
    public var integrity: String { "cnnz file read whole; CRC-32 of header, every chunk and footer verified" }

    public func recognizes(prefix: [UInt8]) -> Bool {
        prefix.starts(with: CNNZLayout.magic)
    }

    public func openReader(path: String, architecture: Architecture?) throws -> any TensorStreamReader {
        try CNNZTensorReader(path: path)
    }

    public func write(_ model: StreamedModel, to path: String, options: SaveOptions) throws {
        try CNNZModel.write(model, to: path, options: Self.writeOptions(options))
    }

    /// The CNNZ options a save asks for: shuffle-deflate when compressing, raw otherwise.
    public static func writeOptions(_ options: SaveOptions) -> CNNZWriteOptions {
        let dtype: CNNZDType
        switch options.dtype {
        case .float32: dtype = .float32
        case .float16: dtype = .float16
        case .bfloat16: dtype = .bfloat16
        }
        return CNNZWriteOptions(codec: options.compress ? .shuffleDeflate : .raw, level: options.level, dtype: dtype)
    }
}

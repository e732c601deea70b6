import ConvNet

/// How a model file is written, whatever its format.
public struct SaveOptions: Sendable, Hashable {
    /// The output format; nil takes it from the file's extension (HDF5 when there is none).
    public var format: ModelFormat?
    /// Compress tensor data (HDF5: shuffle + deflate + Fletcher-32; CNNZ: shuffle-zstd, or shuffle-deflate with
    /// ``compressor`` `.deflate`; npz: deflate).
    public var compress: Bool
    /// The compressor when compressing; nil takes the format's default (CNNZ: zstd; every other format: deflate).
    /// Only CNNZ writes zstd: the other formats refuse `.zstd`.
    public var compressor: Compressor?
    /// zlib level 0-9 when deflating.
    public var level: Int
    /// zstd level 1-22 when writing zstd (default 1).
    public var zstdLevel: Int
    /// Storage precision of float tensors (lossy below float32, exact in float64; only formats that can hold it
    /// accept it).
    public var dtype: StorageDType
    /// Drop the training state (optimizer slots, counters, history).
    public var weightsOnly: Bool

    /// Options; the defaults write float32, uncompressed, with the training state.
    public init(format: ModelFormat? = nil, compress: Bool = false, compressor: Compressor? = nil, level: Int = 6, zstdLevel: Int = 1,
                dtype: StorageDType = .float32, weightsOnly: Bool = false) {
        self.format = format
        self.compress = compress
        self.compressor = compressor
        self.level = level
        self.zstdLevel = zstdLevel
        self.dtype = dtype
        self.weightsOnly = weightsOnly
    }
}

/// The compressors a save can ask for.
public enum Compressor: String, Sendable, Hashable, CaseIterable {
    /// zlib's deflate (every format that compresses).
    case deflate
    /// Zstandard (CNNZ only, codec `shuffle-zstd`).
    case zstd
}

/// Storage precisions a save can ask for.
public enum StorageDType: String, Sendable, Hashable, CaseIterable {
    case float32
    /// Exact for float32 values, at twice the size: for tools that read float64 weights.
    case float64
    case float16
    case bfloat16

    /// Whether storing float32 values in this precision can change them (float16 and bfloat16).
    public var isLossy: Bool { self == .float16 || self == .bfloat16 }

    /// Replaces `tensor`'s values with those a reader gets back after they are stored in this precision
    /// (round to nearest even, as every writer of these precisions does).
    public func roundTrip(_ tensor: inout Tensor) {
        switch self {
        case .float32, .float64:
            return
        case .float16:
            for i in tensor.scalars.indices { tensor.scalars[i] = FloatConversion.float(float16Bits: FloatConversion.float16Bits(tensor.scalars[i])) }
        case .bfloat16:
            for i in tensor.scalars.indices { tensor.scalars[i] = FloatConversion.float(bfloat16Bits: FloatConversion.bfloat16Bits(tensor.scalars[i])) }
        }
    }
}

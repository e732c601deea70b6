/// How a chunk's raw bytes are stored (`Schemas/cnnz.md` section 5).
public enum CNNZCodec: String, CaseIterable, Sendable, Codable {
    /// The raw little-endian bytes; the tensor's data is 64-byte aligned so it can be mapped without copying.
    case raw
    /// A zlib stream (RFC 1950) of the raw bytes, written with zlib's default strategy.
    case deflate
    /// The raw bytes grouped by byte position within each element (HDF5's shuffle), then a zlib stream,
    /// written with zlib's `Z_RLE` strategy (section 5.3 records why).
    case shuffleDeflate = "shuffle-deflate"
    /// The raw bytes grouped by byte position within each element (as `shuffle-deflate`), then one zstd frame
    /// (CNNZ 1.1, section 5.4). The default compressed codec.
    case shuffleZstd = "shuffle-zstd"

    /// The levels the writer accepts: zlib's 0-9 for the deflate codecs, libzstd's 1-22 for `shuffle-zstd`
    /// (none matter for `raw`, which takes any).
    public var levels: ClosedRange<Int> {
        switch self {
        case .raw, .deflate, .shuffleDeflate: 0...9
        case .shuffleZstd: 1...22
        }
    }

    /// The level used when none is given: zlib's 6, zstd's 1 (section 5.4 records the measurement).
    public var defaultLevel: Int {
        self == .shuffleZstd ? 1 : 6
    }

    /// The lowest CNNZ minor version (of major 1) that holds this codec: 1 for `shuffle-zstd`, 0 for the rest.
    public var minorVersion: Int {
        self == .shuffleZstd ? 1 : 0
    }
}

/// The element type of a stored tensor, little-endian (`Schemas/cnnz.md` section 4.3).
public enum CNNZDType: String, CaseIterable, Sendable, Codable {
    case float32, float16, bfloat16, float64, int32, int64, uint8

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .uint8: 1
        case .float16, .bfloat16: 2
        case .float32, .int32: 4
        case .float64, .int64: 8
        }
    }

    /// True for the dtypes that cannot hold every float32 exactly; a float32 tensor stored in them is marked
    /// `lossy` in the header.
    public var isLossyForFloat32: Bool { self == .float16 || self == .bfloat16 }

    /// True for the integer dtypes, which hold only floats that are whole numbers in range (and not `-0`).
    public var isInteger: Bool { self == .int32 || self == .int64 || self == .uint8 }

    /// The largest relative rounding error of a float32 stored in this dtype (half an ulp): `2^-11` for
    /// float16 normals, `2^-8` for bfloat16, 0 for the exact dtypes. float16 values below `2^-14` in magnitude
    /// have an absolute error up to `2^-25` instead.
    public var relativeRoundingBound: Double {
        switch self {
        case .float16: 0x1p-11
        case .bfloat16: 0x1p-8
        default: 0
        }
    }
}

/// What a stored tensor is to the model document (`Schemas/cnnz.md` section 4.2).
public enum CNNZTensorRole: String, CaseIterable, Sendable, Codable {
    /// A model parameter (`conv2d.kernel`, `dense.bias`), in ``ModelArchive/ModelDocument/tensors`` order.
    case parameter
    /// An optimizer slot of the training state, `optimizer.<parameter>.<slot>`.
    case optimizerSlot = "optimizer_slot"
    /// The probe input images, `[n, h, w, c]`.
    case probeInputs = "probe_inputs"
    /// The model's outputs for the probe inputs, `[n, outputs]`; always float32.
    case probeOutputs = "probe_outputs"
}

/// How ``CNNZModel`` and ``CNNZStreamWriter`` write a file.
public struct CNNZWriteOptions: Sendable, Hashable {
    /// The codec of every tensor.
    public var codec: CNNZCodec
    /// The compression level: zlib's 0-9 for the deflate codecs, zstd's 1-22 for `shuffle-zstd`
    /// (``CNNZCodec/levels``).
    public var level: Int
    /// The storage dtype of parameters and optimizer slots. float16 and bfloat16 round to nearest even and are
    /// marked `lossy`; integer dtypes and float64 are exact or refused. Probe inputs are stored as uint8 when
    /// every value is a whole number in 0...255, otherwise float32; probe outputs are always float32.
    public var dtype: CNNZDType
    /// The raw bytes per chunk: a multiple of 8 from 8 to 1 MiB (default 1 MiB).
    public var chunkSize: Int
    /// The threads that encode chunks (default: every core). The writer holds a window of at most twice this
    /// many chunks; the bytes written are the same for any number of threads.
    public var threads: Int

    /// Options; `level` nil takes the codec's ``CNNZCodec/defaultLevel``.
    public init(codec: CNNZCodec = .shuffleZstd, level: Int? = nil, dtype: CNNZDType = .float32,
                chunkSize: Int = CNNZLayout.maxChunkSize, threads: Int = ChunkParallelism.defaultThreads) {
        self.codec = codec
        self.level = level ?? codec.defaultLevel
        self.dtype = dtype
        self.chunkSize = chunkSize
        self.threads = threads
    }
}

/// The caps a reader enforces before allocating anything (`Schemas/cnnz.md` section 6).
public struct CNNZReadOptions: Sendable, Hashable {
    /// The largest header accepted, in bytes (default 64 MiB).
    public var maxHeaderBytes: UInt64
    /// The most tensors a file may hold (default 65,536).
    public var maxTensorCount: Int
    /// The largest rank of a tensor (default 8).
    public var maxRank: Int
    /// The most elements one tensor may hold (default 2^30, ``ConvNet/Architecture/maximumElementCount``).
    public var maxElementCount: UInt64
    /// Whether chunk CRCs are checked when tensors are read (the preamble, header and footer CRCs always are).
    public var verifyChecksums: Bool
    /// The threads that decode a tensor's chunks (default: every core), each holding one stored and one raw chunk.
    public var threads: Int
    /// Whether the tensors are checked against the architecture and training state when the file is opened
    /// (`Schemas/cnnz.md` section 4.2; default true). Turn it off only to read a file as a plain tensor container.
    public var checksModel = true
    /// Map the file into memory read-only instead of reading it with `pread` (default false). Raw float32
    /// tensors can then be viewed where they lie (``CNNZReader/view(at:)``), with no copy; see
    /// ``CNNZReader/view(at:)`` for what a truncation of the mapped file does.
    public var mapFile: Bool
    /// With ``mapFile``: check the chunk CRCs of a tensor that can be viewed when it is first viewed or read,
    /// instead of all of them when the file is opened (default false: up front, so that a damaged file is
    /// refused before anything uses it). A lazy check reads only the tensors used.
    public var lazyChecksums: Bool

    public init(maxHeaderBytes: UInt64 = 64 << 20, maxTensorCount: Int = 65_536, maxRank: Int = 8,
                maxElementCount: UInt64 = 1 << 30, verifyChecksums: Bool = true, threads: Int = ChunkParallelism.defaultThreads,
                mapFile: Bool = false, lazyChecksums: Bool = false) {
        self.threads = threads
        self.mapFile = mapFile
        self.lazyChecksums = lazyChecksums
        self.maxHeaderBytes = maxHeaderBytes
        self.maxTensorCount = maxTensorCount
        self.maxRank = maxRank
        self.maxElementCount = maxElementCount
        self.verifyChecksums = verifyChecksums
    }
}

/// One stored chunk, as the header describes it (`Schemas/cnnz.md` section 4.2).
public struct CNNZChunkInfo: Sendable, Hashable {
    /// Absolute file offset of the stored bytes.
    public var offset: UInt64
    /// Stored (encoded) size in bytes.
    public var storedBytes: UInt64
    /// Raw (decoded) size in bytes.
    public var rawBytes: UInt64
    /// CRC-32 of the stored bytes.
    public var crc32: UInt32
}

/// What a CNNZ file says about one tensor, checked against the file but not yet read (for `cnnkit inspect`
/// and for reading one tensor at a time).
public struct CNNZTensorInfo: Sendable, Hashable {
    public var name: String
    public var role: CNNZTensorRole
    /// The stored dtype (values are always read as float32).
    public var dtype: CNNZDType
    public var codec: CNNZCodec
    public var shape: [Int]
    public var elementCount: Int
    /// Elements times the dtype's size.
    public var rawBytes: UInt64
    /// The sum of the chunks' stored sizes (alignment padding not included).
    public var storedBytes: UInt64
    /// True when the values were rounded to float16 or bfloat16 on writing.
    public var lossy: Bool
    public var chunks: [CNNZChunkInfo]
    /// Where the tensor's bytes begin, alignment padding included (section 3.2).
    public var paddingOffset: UInt64
    /// Where its first chunk begins (64-byte aligned for `raw`); equal to ``paddingOffset`` for an empty tensor.
    public var dataOffset: UInt64
}

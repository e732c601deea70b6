import ModelArchive

/// The element type of a PyTorch storage, named by its storage class in the pickle (`torch.FloatStorage`).
///
/// The float types are widened to float32 when read (float64 rounds); the integer and bool storages are the
/// other classes PyTorch's weights-only unpickler allows, parsed so that a state dict holding one (BatchNorm's
/// `num_batches_tracked`) is refused by key rather than as an unknown global.
public enum TorchDType: String, Sendable, CaseIterable {
    case float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool

    /// The storage class `torch.<name>` of each type.
    public var storageClass: String {
        switch self {
        case .float32: "FloatStorage"
        case .float64: "DoubleStorage"
        case .float16: "HalfStorage"
        case .bfloat16: "BFloat16Storage"
        case .int64: "LongStorage"
        case .int32: "IntStorage"
        case .int16: "ShortStorage"
        case .int8: "CharStorage"
        case .uint8: "ByteStorage"
        case .bool: "BoolStorage"
        }
    }

    /// The type of a storage class name (`FloatStorage`), if it is one of ``allCases``.
    public init?(storageClass: String) {
        guard let found = Self.allCases.first(where: { $0.storageClass == storageClass }) else { return nil }
        self = found
    }

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .int8, .uint8, .bool: 1
        }
    }

    /// The types CNNKit reads as parameters.
    public var isFloat: Bool {
        switch self {
        case .float32, .float64, .float16, .bfloat16: true
        default: false
        }
    }

    /// Decodes `count` little-endian float elements starting at element `first` of `bytes`; the caller has
    /// checked the range and that the type ``isFloat``.
    func decodeFloats(_ bytes: UnsafeRawBufferPointer, first: Int, count: Int) -> [Float] {
        var values = [Float](repeating: 0, count: count)
        func word<T: FixedWidthInteger>(_ i: Int, _: T.Type) -> T {
            T(littleEndian: bytes.loadUnaligned(fromByteOffset: (first + i) * MemoryLayout<T>.size, as: T.self))
        }
        for i in 0..<count {
            switch self {
            case .float32: values[i] = Float(bitPattern: word(i, UInt32.self))
            case .float64: values[i] = FloatConversion.float(float64Bits: word(i, UInt64.self))
            case .float16: values[i] = FloatConversion.float(float16Bits: word(i, UInt16.self))
            case .bfloat16: values[i] = FloatConversion.float(bfloat16Bits: word(i, UInt16.self))
            default: values[i] = 0
            }
        }
        return values
    }
}

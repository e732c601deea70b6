/// The caps every reader applies to untrusted files, in one place.
public enum SafetyLimits {
    /// Deflate cannot expand data by more than 1032:1: a deflated chunk, dataset or zip member that declares a
    /// larger ratio is a bomb and is refused before anything is allocated or extracted.
    public static let maxDeflateRatio: UInt64 = 1032
    /// The most members a zip archive (`.npz`, `.keras`) may hold.
    public static let maxZipMembers = 100_000
    /// The largest single zip member accepted (8 GiB: 2^30 float64 values).
    public static let maxZipMemberBytes: UInt64 = 1 << 33
}

extension SafetyLimits {
    /// The largest ONNX model file read (2 GiB - 1: protobuf's own limit on a message; larger models keep their
    /// weights in external data, which is refused unless inside the model's folder).
    public static let maxONNXModelBytes: UInt64 = (1 << 31) - 1
    /// The most nodes an ONNX graph may hold (the supported family needs a few dozen).
    public static let maxONNXNodes = 10_000
    /// The most initializers an ONNX graph may hold.
    public static let maxONNXInitializers = 10_000
}

/// The file formats CNNKit knows, detected from their first bytes.
public enum ModelFormat: String, Sendable, CaseIterable, Codable {
    case hdf5
    case cnnz
    case keras
    case safetensors
    case npz
    case onnx

    /// The extensions a file of this format usually has.
    public var extensions: [String] {
        switch self {
        case .hdf5: ["h5", "hdf5"]
        case .cnnz: ["cnnz"]
        case .keras: ["keras"]
        case .safetensors: ["safetensors"]
        case .npz: ["npz"]
        case .onnx: ["onnx"]
        }
    }

    /// The format a file name's extension suggests, if any.
    public static func fromExtension(of path: String) -> ModelFormat? {
        let lower = path.lowercased()
        if isKerasWeightsPath(path) { return .hdf5 }
        guard let dot = lower.lastIndex(of: ".") else { return nil }
        let ext = String(lower[lower.index(after: dot)...])
        return allCases.first { $0.extensions.contains(ext) }
    }

    /// True for a Keras 3 weights file name (`*.weights.h5`): HDF5 in the Keras 3 weights layout rather than a
    /// full-model file. Writers choose the layout by this name, as Keras' `save_weights` requires it.
    public static func isKerasWeightsPath(_ path: String) -> Bool {
        path.lowercased().hasSuffix(".weights.h5")
    }

    /// The CNNZ magic: `\x89CNNZ\r\n\x1a\n` (PNG-style, catches text-mode and truncation damage).
    public static let cnnzMagic: [UInt8] = [0x89, 0x43, 0x4E, 0x4E, 0x5A, 0x0D, 0x0A, 0x1A]
    /// The HDF5 superblock signature `\x89HDF\r\n\x1a\n`.
    public static let hdf5Magic: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Detects the format from the first bytes of a file (at least 16 bytes, fewer for tiny files).
    ///
    /// A zip is `.keras` when it holds `config.json` or `model.weights.h5` near the start, otherwise `.npz`.
    /// safetensors starts with a little-endian UInt64 header length followed by `{`. An ONNX `ModelProto` starts
    /// with field 1 (`ir_version`, a small varint) followed by the key of another `ModelProto` field.
    public static func detect(prefix bytes: [UInt8]) -> ModelFormat? {
        if bytes.starts(with: cnnzMagic) { return .cnnz }
        if bytes.starts(with: hdf5Magic) { return .hdf5 }
        if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
            let text = String(decoding: bytes.prefix(4096), as: UTF8.self)
            if text.contains("config.json") || text.contains("metadata.json") || text.contains("model.weights.h5") { return .keras }
            return .npz
        }
        if bytes.count >= 9 {
            var length: UInt64 = 0
            for i in 0..<8 { length |= UInt64(bytes[i]) << (8 * UInt64(i)) }
            if length > 1, length < 100_000_000, bytes[8] == UInt8(ascii: "{") { return .safetensors }
        }
        if isONNX(bytes) { return .onnx }
        return nil
    }

    /// True for the start of a serialized ONNX `ModelProto`: `0x08` (field 1 `ir_version`, varint), a one-byte
    /// version 1-127, then the key of `producer_name` (2), `producer_version` (3), `domain` (4),
    /// `model_version` (5), `doc_string` (6), `graph` (7), `opset_import` (8) or `metadata_props` (14).
    static func isONNX(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 3, bytes[0] == 0x08, (1...0x7F).contains(bytes[1]) else { return false }
        return [0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72].contains(bytes[2])
    }
}

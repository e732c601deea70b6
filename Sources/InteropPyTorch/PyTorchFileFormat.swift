import ConvNet
import ModelArchive

/// PyTorch's `torch.save` zip of a state dict (`.pt`, `.pth`): read without executing anything (a data-only
/// pickle reader), written as `torch.load(path, weights_only=True)` reads it.
public struct PyTorchFileFormat: ModelFileFormat {
    public init() {}

    public let info = FormatInfo(format: "pt", displayName: "PyTorch", extensions: ["pt", "pth"], capabilities: .init(compression: false, trainingState: false),
        integrity: "PyTorch zip read; local headers checked against the central directory, member CRC-32 verified, pickle run data-only")

    /// A zip whose first member is `NAME/data.pkl` (what `torch.save` writes first) or `NAME/data/KEY` (what
    /// `torch.jit.save` writes first; not `.npy`), or a legacy `torch.save` pickle; the last two are recognised so
    /// that they are refused with a message, not as an unknown format or another format's damaged file.
    public func recognizes(prefix: [UInt8]) -> Bool {
        if prefix.starts(with: PyTorchArchive.legacyMagic) { return true }
        guard let name = PyTorchArchive.firstMemberName(prefix), let slash = name.firstIndex(of: "/"), slash != name.startIndex else { return false }
        let inner = name[name.index(after: slash)...]
        return inner == "data.pkl" || (inner.hasPrefix("data/") && inner.count > 5 && !inner.contains("/.") && !name.hasSuffix(".npy")
            && !inner.dropFirst(5).contains("/"))
    }

    public func openReader(path: String, architecture: Architecture?) throws -> any TensorStreamReader {
        try PyTorchTensorReader(path: path, architecture: architecture)
    }

    public func write(_ model: StreamedModel, to path: String, options: SaveOptions) throws {
        try check(options, path: path)
        try PyTorchWriter.write(model, to: path)
    }
}

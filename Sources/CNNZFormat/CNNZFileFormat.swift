import ConvNet
import ModelArchive

/// The CNNZ format: recognised by its magic, read and written one tensor at a time.
public struct CNNZFileFormat: ModelFileFormat {
    public init() {}

    public let info = FormatInfo(format: "cnnz", displayName: "CNNZ", extensions: ["cnnz"],
        capabilities: .init(compression: true, trainingState: true, dtypes: StorageDType.allCases, compressors: [.zstd, .deflate], compressesByDefault: true),
        integrity: "cnnz file read whole; CRC-32 of header, every chunk and footer verified", magic: CNNZLayout.magic)

    public func openReader(path: String, architecture: Architecture?) throws -> any TensorStreamReader {
        try CNNZTensorReader(path: path)
    }

    /// Maps the file read-only (``CNNZReadOptions/mapFile``): raw float32 tensors are then viewed in place, their
    /// chunk CRCs checked once when the file is opened.
    public func openMappedReader(path: String, architecture: Architecture?) throws -> any TensorStreamReader {
        try CNNZTensorReader(path: path, options: CNNZReadOptions(mapFile: true))
    }

    /// Writes a model, first checking that its tensors fit its architecture and training state as a reader will
    /// check them (`Schemas/cnnz.md` section 4.2), so that CNNKit never writes a CNNZ file it would refuse.
    ///
    /// - Throws: ``CNNZError/invalidWrite(reason:)`` naming the tensor that does not fit, or what
    ///   writing throws (``CNNZModel``).
    public func write(_ model: StreamedModel, to path: String, options: SaveOptions) throws {
        let probes = model.probes.map { [("probes.inputs", $0.inputs.shape, CNNZTensorRole.probeInputs), ("probes.outputs", $0.outputs.shape, .probeOutputs)] } ?? []
        let tensors = model.parameters.map { ($0.name, $0.shape, CNNZTensorRole.parameter) } + model.slots.map { ($0.name, $0.shape, .optimizerSlot) } + probes
        do {
            try CNNZModelCheck.check(tensors, architecture: model.architecture, trainingState: model.trainingState)
        } catch {
            throw CNNZError.invalidWrite(reason: (error.tensor.map { "tensor \($0): " } ?? "") + error.reason)
        }
        try CNNZModel.write(model, to: path, options: Self.writeOptions(options))
    }

    /// The CNNZ options a save asks for: shuffle-zstd when compressing (shuffle-deflate when the compressor is
    /// deflate), raw otherwise.
    public static func writeOptions(_ options: SaveOptions) -> CNNZWriteOptions {
        let dtype: CNNZDType
        switch options.dtype {
        case .float32: dtype = .float32
        case .float64: dtype = .float64
        case .float16: dtype = .float16
        case .bfloat16: dtype = .bfloat16
        }
        guard options.compress else { return CNNZWriteOptions(codec: .raw, dtype: dtype) }
        switch options.compressor ?? .zstd {
        case .deflate: return CNNZWriteOptions(codec: .shuffleDeflate, level: options.level, dtype: dtype)
        case .zstd: return CNNZWriteOptions(codec: .shuffleZstd, level: options.zstdLevel, dtype: dtype)
        }
    }
}

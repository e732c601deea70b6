import ConvNet
import ModelArchive

/// A CNNZ file opened for streaming (``TensorStreamReader``): the header is checked and the probes read when
/// it is opened; parameters and optimizer slots are read one at a time through ``CNNZReader/readTensor(at:)``.
public final class CNNZTensorReader: TensorStreamReader {
    /// The underlying reader (tensor infos, version).
    public let reader: CNNZReader
    public let header: ModelHeader
    private let indices: [String: Int]

    /// Opens and checks a file, reading only its header, footer and probe tensors.
    ///
    /// - Throws: what ``CNNZReader/init(path:options:)`` throws, or a probe tensor's read error.
    public init(path: String, options: CNNZReadOptions = .init()) throws {
        let reader = try CNNZReader(path: path, options: options)
        self.reader = reader
        var parameters: [TensorDescriptor] = [], slots: [TensorDescriptor] = [], indices: [String: Int] = [:]
        var probeInputs: Tensor?, probeOutputs: Tensor?
        for (i, info) in reader.tensors.enumerated() {
            switch info.role {
            case .parameter: parameters.append(TensorDescriptor(name: info.name, shape: info.shape))
            case .optimizerSlot: slots.append(TensorDescriptor(name: info.name, shape: info.shape))
            case .probeInputs: probeInputs = try reader.readTensor(at: i)
            case .probeOutputs: probeOutputs = try reader.readTensor(at: i)
            }
            if info.role == .parameter || info.role == .optimizerSlot { indices[info.name] = i }
        }
        self.indices = indices
        var probes: Probes?
        if let source = reader.probesSource, let probeInputs, let probeOutputs {
            probes = Probes(inputs: probeInputs, outputs: probeOutputs, source: source)
        }
        header = ModelHeader(architecture: reader.architecture, trainingState: reader.trainingState, probes: probes, metadata: reader.metadata,
                             parameters: parameters, slots: slots)
    }
    public var formatVersion: String { "\(reader.majorVersion).\(reader.minorVersion)" }

    public func storage(of name: String) -> TensorStorage? {
        guard let i = reader.index(of: name) else { return nil }
        let t = reader.tensors[i]
        return TensorStorage(dtype: t.dtype.rawValue, codec: t.codec.rawValue, storedBytes: Int(t.storedBytes), rawBytes: Int(t.rawBytes))
    }

    /// Reads a parameter or optimizer slot, checking its padding and chunk CRCs.
    ///
    /// - Throws: ``CNNZError/noSuchTensor(_:)`` for another name, or what ``CNNZReader/readTensor(at:)`` throws.
    public func readTensor(named name: String) throws -> Tensor {
        guard let i = indices[name] else { throw CNNZError.noSuchTensor(CNNZLocation(file: reader.file, tensor: name)) }
        return try reader.readTensor(at: i)
    }

    /// A parameter or optimizer slot as a view: borrowed from the mapping for a raw float32 tensor of a file
    /// opened with ``CNNZReadOptions/mapFile`` (``CNNZReader/view(at:)``), else read.
    public func view(named name: String) throws -> TensorView {
        guard let i = indices[name] else { throw CNNZError.noSuchTensor(CNNZLocation(file: reader.file, tensor: name)) }
        return try reader.view(at: i)
    }
}

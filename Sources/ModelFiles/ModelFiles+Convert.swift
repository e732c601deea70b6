import CNNZFormat
import ConvNet
import HDF5Format
import KerasFormat
import ModelArchive
import Verification

/// What ``ModelFiles/convert(_:to:options:)`` is asked to do.
public struct ConversionOptions {
    /// Format, dtype, compression and whether to drop the training state.
    public var save: SaveOptions
    /// The architecture for inputs that carry none (Keras `.weights.h5`).
    public var architecture: Architecture?
    /// Reopen the output and verify it against the input on the probes.
    public var verify: Bool
    /// Use the streaming path when both formats support it (turn off to force the in-memory path).
    public var allowStreaming: Bool
    /// Runs after the input was read and checked, before the output is created (for example a check that the
    /// output's folder is writable).
    public var beforeWriting: (() throws -> Void)?

    public init(save: SaveOptions = .init(), architecture: Architecture? = nil, verify: Bool = true, allowStreaming: Bool = true,
                beforeWriting: (() throws -> Void)? = nil) {
        self.save = save
        self.architecture = architecture
        self.verify = verify
        self.allowStreaming = allowStreaming
        self.beforeWriting = beforeWriting
    }
}

/// What a conversion did.
public struct ConversionResult: Sendable {
    public var inputFormat: ModelFormat
    public var outputFormat: ModelFormat
    /// The number of parameter tensors.
    public var tensorCount: Int
    /// Whether the input had a training state (dropped when ``SaveOptions/weightsOnly``).
    public var hadTrainingState: Bool
    /// The verification of the output against the input, when asked for.
    public var report: VerifyReport?
    /// True when the streaming path ran (one tensor in memory at a time).
    public var streamed: Bool
}

extension ModelFiles {
    /// Converts a model file, carrying probes over (recording them on deterministic pseudo-random images when the
    /// input has none, and the per-layer probe trace when it lacks one), then reopens the output and verifies it
    /// against the input.
    ///
    /// Between HDF5 and CNNZ files (either way, or to the same format with other options) the conversion
    /// streams: one tensor is read from the input, written to the output and released before the next, and the
    /// verification runs the probes layer by layer (``StreamingVerifier``), so memory stays near the largest
    /// tensor. Other formats go through a ``ModelDocument`` in memory.
    ///
    /// - Throws: a ``ModelFileError`` naming the file and what is wrong where, or what `beforeWriting` throws.
    public static func convert(_ input: String, to output: String, options: ConversionOptions) throws -> ConversionResult {
        let inFormat = try format(of: input)
        let outFormat = outputFormat(path: output, options: options.save)
        // A file the streaming reader cannot open (or one that needs a given architecture, like Keras
        // `.weights.h5`) goes the in-memory way, whose reader has the last word on what is wrong with it.
        if options.allowStreaming, options.architecture == nil, let writer = streamWriter(outFormat, path: output, options: options.save),
           let reader = try? streamReader(input, format: inFormat) {
            return try convertStreaming(reader, input: input, inFormat: inFormat, writer: writer, output: output, outFormat: outFormat, options: options)
        }
        return try convertInMemory(input, inFormat: inFormat, output: output, outFormat: outFormat, options: options)
    }

    /// A streaming reader for formats that have one (HDF5, CNNZ), else nil.
    public static func streamReader(_ path: String, format: ModelFormat) throws -> TensorStreamReader? {
        switch format {
        case .hdf5: try HDF5TensorReader(path: path)
        case .cnnz: try CNNZTensorReader(path: path)
        default: nil
        }
    }

    /// A streaming writer for a format and options it can hold (HDF5 float32 full-model files, CNNZ), else nil
    /// (Keras `.weights.h5` files are written in memory).
    public static func streamWriter(_ format: ModelFormat, path: String, options: SaveOptions) -> TensorStreamWriter? {
        switch format {
        case .hdf5 where options.dtype == .float32 && !ModelFormat.isKerasWeightsPath(path):
            HDF5TensorStreamWriter(options: HDF5WriteOptions(compression: options.compress ? .deflate(level: options.level) : .none))
        case .cnnz:
            CNNZTensorStreamWriter(options: cnnzOptions(options))
        default:
            nil
        }
    }

    static func cnnzOptions(_ options: SaveOptions) -> CNNZWriteOptions {
        CNNZWriteOptions(codec: options.compress ? .shuffleDeflate : .raw, level: options.level, dtype: cnnzType(options.dtype))
    }

    // MARK: In memory

    private static func convertInMemory(_ input: String, inFormat: ModelFormat, output: String, outFormat: ModelFormat,
                                        options: ConversionOptions) throws -> ConversionResult {
        var document = try load(input, architecture: options.architecture)
        let network = try document.network()
        if document.probes == nil {
            let inputs = Probes.randomInputs(shape: network.shapes[0], count: 4, seed: 0)
            document = try ModelDocument.recording(network: network, probeInputs: inputs, source: "random:seed=0",
                                                   trainingState: document.trainingState, metadata: document.metadata)
        } else if ProbeTrace.stored(in: document) == nil, let probes = document.probes {
            document.metadata[ProbeTrace.metadataKey] = try ProbeTrace(network: network, inputs: probes.inputs).jsonString()
        }
        try options.beforeWriting?()
        try save(document, to: output, options: options.save)
        var result = ConversionResult(inputFormat: inFormat, outputFormat: outFormat, tensorCount: document.tensors.count,
                                      hadTrainingState: document.trainingState != nil, report: nil, streamed: false)
        guard options.verify else { return result }
        let reopened = try load(output, architecture: options.architecture)
        result.report = Verifier.verify(document: reopened, path: output, format: outFormat.rawValue,
                                        parseDetail: integrityDescription(outFormat), options: VerifyOptions(against: (document, input)))
        return result
    }
}

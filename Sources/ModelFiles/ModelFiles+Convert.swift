import ConvNet
import ModelArchive
import Verification

/// What ``ModelFiles/convert(_:to:options:)`` is asked to do.
public struct ConversionOptions {
    /// Format, dtype, compression and whether to drop the training state.
    public var save: SaveOptions
    /// The architecture for inputs that carry none (Keras `.weights.h5`).
    public var architecture: Architecture?
    /// The preprocessing for an input that has none (scale 1, offset 0: a PyTorch state dict, an ONNX graph
    /// without Sub/Div/Mul preprocessing, which see pixels as stored); refused for an input with another one.
    public var preprocessing: Preprocessing?
    /// Reopen the output and verify it against the input on the probes (formats CNNKit reads).
    public var verify: Bool
    /// Stream tensors from the input to the output one at a time (the default). Off, the input is read whole
    /// into a `ModelDocument` first and the same writer and verifier are fed from memory.
    public var allowStreaming: Bool
    /// Runs after the input was read and checked, before the output is created (for example a check that the
    /// output's folder is writable).
    public var beforeWriting: (() throws -> Void)?
    /// Real images for an input without probes, for the model's input shape (nil when no data set of that shape
    /// is at hand): probes from real data exercise the units that random images leave inactive. Pseudo-random
    /// images are used when this gives none.
    public var probeImages: ((ActivationShape) -> (inputs: Tensor, source: String)?)?

    /// Options; by default the output is verified and streamed where both formats allow.
    public init(save: SaveOptions = .init(), architecture: Architecture? = nil, preprocessing: Preprocessing? = nil, verify: Bool = true,
                allowStreaming: Bool = true, beforeWriting: (() throws -> Void)? = nil,
                probeImages: ((ActivationShape) -> (inputs: Tensor, source: String)?)? = nil) {
        self.save = save
        self.architecture = architecture
        self.preprocessing = preprocessing
        self.verify = verify
        self.allowStreaming = allowStreaming
        self.beforeWriting = beforeWriting
        self.probeImages = probeImages
    }
}

/// What a conversion did.
public struct ConversionResult: Sendable {
    /// The input's detected format.
    public var inputFormat: ModelFormat
    /// The format written.
    public var outputFormat: ModelFormat
    /// The number of parameter tensors.
    public var tensorCount: Int
    /// Whether the input had a training state (dropped when `SaveOptions/weightsOnly`).
    public var hadTrainingState: Bool
    /// The verification of the output against the input, when asked for.
    public var report: VerifyReport?
    /// True when tensors went from the input to the output one at a time.
    public var streamed: Bool
    /// What the input's reader inferred rather than read (`TensorStreamReader.inferredArchitecture`: a PyTorch state
    /// dict's `nn.Sequential`), nil when the file or the caller gave the architecture.
    public var inferredArchitecture: String?
}

extension ModelFiles {
    /// Converts a model file: the one path for every pair of formats.
    ///
    /// The input is opened (small parts only); probes are carried over, or recorded on deterministic
    /// pseudo-random images when it has none (and the per-layer probe trace when it lacks one), by a forward
    /// pass that fetches one layer's parameters at a time; the writer then pulls one tensor at a time from the
    /// input; the output is reopened and verified against the input, both run layer by layer. Memory stays near
    /// the largest tensor wherever both formats stream (`FormatCapabilities/streamsReads` and
    /// `FormatCapabilities/streamsWrites`).
    ///
    /// - Throws: a `ModelFileError` naming the file and what is wrong where, or what `beforeWriting` throws.
    public static func convert(_ input: String, to output: String, options: ConversionOptions) throws -> ConversionResult {
        let opened = try open(input, architecture: options.architecture)
        let outFormat = outputFormat(path: output, options: options.save)
        var model = opened.model
        // A file that records digests is checked as it is read: a damaged input is not converted.
        if let digests = try TensorDigests.recorded(in: model.metadata, path: input) {
            model = try model.checkingDigests(digests, path: input)
        }
        if !options.allowStreaming { model = StreamedModel(document: try model.document()) }
        if let preprocessing = options.preprocessing { try setPreprocessing(preprocessing, of: &model, path: input) }
        try model.checkParameters()
        try checkProbes(model, path: input)
        try addProbes(&model, images: options.probeImages)
        try outFormat.check(options.save, path: output)
        try options.beforeWriting?()
        try save(model, to: output, options: options.save)
        var result = ConversionResult(inputFormat: opened.format.format, outputFormat: outFormat.format, tensorCount: model.parameters.count,
                                      hadTrainingState: model.trainingState != nil, report: nil,
                                      streamed: options.allowStreaming && opened.format.capabilities.streamsReads && outFormat.capabilities.streamsWrites)
        result.inferredArchitecture = opened.reader.inferredArchitecture
        guard options.verify, outFormat.capabilities.reads else { return result }
        let reopened = try ModelFiles.open(output, architecture: options.architecture)
        result.report = try Verifier.verify(reopened.model, path: output, format: outFormat.format.rawValue, parseDetail: reopened.integrity,
                                            options: VerifyOptions(against: (model, input)))
        return result
    }

    /// Gives a model without preprocessing (scale 1, offset 0) the one asked for; the probes and the probe trace,
    /// recorded with the old one, are dropped (and recorded again). The same preprocessing is accepted as is.
    ///
    /// - Throws: ``ArchiveError/unsupported(format:reason:)`` (exit 64) when the input has another one.
    static func setPreprocessing(_ preprocessing: Preprocessing, of model: inout StreamedModel, path: String) throws {
        let current = model.architecture.preprocessing
        guard current != preprocessing else { return }
        guard current == Preprocessing(scale: 1, offset: 0) else {
            throw ArchiveError.unsupported(format: "convert", reason: "\(path) has its own preprocessing x * \(current.scale) + \(current.offset); --preprocessing only gives one to a model without any (scale 1, offset 0)")
        }
        model.architecture.preprocessing = preprocessing
        model.probes = nil
        model.metadata.removeValue(forKey: ProbeTrace.metadataKey)
    }

    /// Checks that stored probes fit the architecture: inputs `[n, h, w, c]`, outputs `n` rows of its outputs.
    static func checkProbes(_ model: StreamedModel, path: String) throws {
        guard let probes = model.probes else { return }
        let shapes = try model.architecture.activationShapes()
        let input = model.architecture.input, outputs = shapes.last?.count ?? 0
        let n = probes.inputs.shape.first ?? 0
        guard probes.inputs.shape == [n, input.height, input.width, input.channels],
              probes.inputs.scalars.count == Tensor.elementCount(probes.inputs.shape),
              probes.outputs.scalars.count == n * outputs, probes.outputs.shape.last == outputs else {
            throw ArchiveError.invalid(path: path, location: "probes", reason: "expected inputs [n, \(input.height), \(input.width), \(input.channels)] and outputs [n, \(outputs)], found \(probes.inputs.shape) and \(probes.outputs.shape)")
        }
    }

    /// Records probes when the model has none: on the real images `images` gives for its input shape, else on
    /// deterministic pseudo-random images (parameters then in the architecture's order, as
    /// ``ModelDocument/recording(network:probeInputs:source:trainingState:metadata:)`` lists them); or the probe
    /// trace when only that is missing: one streamed forward pass.
    static func addProbes(_ model: inout StreamedModel, images: ((ActivationShape) -> (inputs: Tensor, source: String)?)? = nil) throws {
        if let probes = model.probes {
            guard model.metadata[ProbeTrace.metadataKey] == nil else { return }
            model.metadata[ProbeTrace.metadataKey] = try Verifier.run(model, inputs: probes.inputs).trace.jsonString()
            return
        }
        let shapes = try model.architecture.activationShapes()
        guard let inputShape = shapes.first, let outputShape = shapes.last else { return }
        let (inputs, source) = images?(inputShape) ?? (Probes.randomInputs(shape: inputShape, count: 4, seed: 0), "random:seed=0")
        let run = try Verifier.run(model, inputs: inputs)
        model.probes = Probes(inputs: inputs, outputs: Tensor(shape: [inputs.shape.first ?? 0, outputShape.count], scalars: run.outputs),
                              source: source)
        model.metadata[ProbeTrace.metadataKey] = run.trace.jsonString()
        let byName = Dictionary(model.parameters.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        model.parameters = try model.architecture.parameterSpecs().compactMap { byName[$0.name] }
    }

    /// Records the tolerance a lossy copy guarantees on the probes: the probes are rerun on the parameters as
    /// a reader of the lossy file will see them (each tensor rounded through `dtype` as it is fetched), and
    /// twice the largest absolute error is stored as `cnnkit.tolerance.atol` (an empirical bound).
    static func recordLossyBound(_ model: inout StreamedModel, dtype: StorageDType) throws {
        guard let probes = model.probes else { return }
        let run = try Verifier.run(model, inputs: probes.inputs) { dtype.roundTrip(&$0) }
        let comparison = OutputComparison(actual: run.outputs, reference: probes.outputs.scalars,
                                          width: max(probes.outputs.shape.last ?? 1, 1), tolerance: .exact)
        model.metadata[Verifier.atolKey] = String(max(2 * comparison.maxAbsError, Double(Float.leastNormalMagnitude)))
        model.metadata[Verifier.rtolKey] = "0"
        model.metadata["cnnkit.lossy_dtype"] = dtype.rawValue
    }
}

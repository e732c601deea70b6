import CNNZFormat
import ConvNet
import ModelArchive
import Verification

extension ModelFiles {
    /// The streaming conversion: probes and the lossy bound are computed by streamed forward passes over the
    /// input, then the writer pulls one tensor at a time from the reader, then the output is reopened and
    /// verified by a streamed forward pass. Peak memory: the largest tensor plus buffers of one chunk.
    static func convertStreaming(_ reader: TensorStreamReader, input: String, inFormat: ModelFormat, writer: TensorStreamWriter,
                                 output: String, outFormat: ModelFormat, options: ConversionOptions) throws -> ConversionResult {
        var model = StreamedModel(reader: reader)
        try model.checkParameters()
        try checkProbes(model, path: input)
        try addProbes(&model)
        let reference = (probes: try referenceProbes(model), metadata: model.metadata, path: input)
        var result = ConversionResult(inputFormat: inFormat, outputFormat: outFormat, tensorCount: model.parameters.count,
                                      hadTrainingState: model.trainingState != nil, report: nil, streamed: true)
        try options.beforeWriting?()
        var written = model
        if options.save.weightsOnly {
            written.trainingState = nil
            written.slots = []
        }
        if outFormat == .cnnz, options.save.dtype != .float32 {
            try recordLossyBound(&written, dtype: cnnzType(options.save.dtype))
        }
        try writer.write(written, to: output)
        guard options.verify, let reopened = try streamReader(output, format: outFormat) else { return result }
        result.report = try StreamingVerifier.verify(StreamedModel(reader: reopened), path: output, format: outFormat.rawValue,
                                                     parseDetail: integrityDescription(outFormat), reference: reference)
        return result
    }

    /// The probes to verify the output against: the input's own, except for a lossy input (one that records a
    /// tolerance), whose stored outputs came from the model before rounding; its outputs are recomputed then by
    /// one more streamed pass, so that the comparison is with what the input computes, as in memory.
    static func referenceProbes(_ model: StreamedModel) throws -> Probes? {
        guard var probes = model.probes, StreamingVerifier.recordedTolerance(model.metadata) != .exact else { return model.probes }
        let outputs = try StreamingVerifier.run(model, inputs: probes.inputs).outputs
        probes.outputs = Tensor(shape: probes.outputs.shape, scalars: outputs)
        return probes
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

    /// Records probes on deterministic pseudo-random images when the model has none (parameters then in the
    /// architecture's order, as ``ModelDocument/recording(network:probeInputs:source:trainingState:metadata:)``
    /// lists them), or the probe trace when only that is missing: one streamed forward pass over the input.
    static func addProbes(_ model: inout StreamedModel) throws {
        if let probes = model.probes {
            guard model.metadata[ProbeTrace.metadataKey] == nil else { return }
            model.metadata[ProbeTrace.metadataKey] = try StreamingVerifier.run(model, inputs: probes.inputs).trace.jsonString()
            return
        }
        let shapes = try model.architecture.activationShapes()
        guard let inputShape = shapes.first, let outputShape = shapes.last else { return }
        let inputs = Probes.randomInputs(shape: inputShape, count: 4, seed: 0)
        let run = try StreamingVerifier.run(model, inputs: inputs)
        model.probes = Probes(inputs: inputs, outputs: Tensor(shape: [inputs.shape.first ?? 0, outputShape.count], scalars: run.outputs),
                              source: "random:seed=0")
        model.metadata[ProbeTrace.metadataKey] = run.trace.jsonString()
        let byName = Dictionary(model.parameters.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        model.parameters = try model.architecture.parameterSpecs().compactMap { byName[$0.name] }
    }

    /// The streaming form of ``recordLossyBound(_:options:)``: the probes are rerun on the parameters as a
    /// reader of the lossy file will see them (each tensor rounded through `dtype` as it is fetched), and twice
    /// the largest absolute error is recorded; the same numbers as the in-memory path.
    static func recordLossyBound(_ model: inout StreamedModel, dtype: CNNZDType) throws {
        guard let probes = model.probes else { return }
        let run = try StreamingVerifier.run(model, inputs: probes.inputs) { tensor, name in try dtype.roundTrip(&tensor, name: name) }
        let comparison = OutputComparison(actual: run.outputs, reference: probes.outputs.scalars,
                                          width: max(probes.outputs.shape.last ?? 1, 1), tolerance: .exact)
        model.metadata[Verifier.atolKey] = String(max(2 * comparison.maxAbsError, Double(Float.leastNormalMagnitude)))
        model.metadata[Verifier.rtolKey] = "0"
        model.metadata["cnnkit.lossy_dtype"] = dtype.rawValue
    }
}

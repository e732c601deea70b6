import ConvNet
import Foundation
import ModelArchive

/// What one streamed forward pass over a model found.
public struct ProbeRun: Sendable {
    /// One row of outputs per input.
    public var outputs: [Float]
    /// The per-layer trace, as ``ProbeTrace/init(network:inputs:)`` computes it.
    public var trace: ProbeTrace
    /// Per parameter read: name, value count, non-finite count.
    public var valueCounts: [(name: String, count: Int, nonFinite: Int)]
}

extension ProbeTrace {
    /// A trace from its parts.
    public init(layers: [String], statistics: [[[Double]]]) {
        self.layers = layers
        self.statistics = statistics
    }

    /// The trace stored in metadata, if readable.
    public static func stored(in metadata: [String: String]) -> ProbeTrace? {
        guard let text = metadata[metadataKey] else { return nil }
        return try? JSONDecoder().decode(ProbeTrace.self, from: Data(text.utf8))
    }
}

extension Verifier {
    /// Runs a few `inputs` through the model one layer at a time
    /// (`Network/predictStreaming(architecture:inputs:parameter:layerOutputs:)`), fetching each parameter
    /// right before its layer, so a model of several hundred MB is run while holding its largest tensor.
    /// Counts the non-finite values of every parameter on the way.
    ///
    /// - Parameters:
    ///   - model: the model, read one tensor at a time.
    ///   - inputs: raw-pixel images `[n, h, w, c]`.
    ///   - transform: applied to each tensor after fetching (for example a lossy dtype's round trip).
    ///   - activations: called with each layer's activations (index 0 is the preprocessed input).
    /// - Throws: what fetching throws, or `ConvNetError` for a bad architecture or shape.
    public static func run(_ model: StreamedModel, inputs: Tensor, transform: ((inout Tensor) -> Void)? = nil,
                           activations: ((Int, [[Float]]) -> Void)? = nil) throws -> ProbeRun {
        let byName = Dictionary(model.parameters.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var counts: [(name: String, count: Int, nonFinite: Int)] = []
        let n = inputs.shape.first ?? 0
        var statistics = [[[Double]]](repeating: [], count: n)
        let outputs = try Network.predictStreaming(architecture: model.architecture, inputs: inputs.scalars, parameter: { spec in
            guard let descriptor = byName[spec.name] else { throw ConvNetError.missingParameter(name: spec.name) }
            var tensor = try model.fetch(descriptor)
            transform?(&tensor)
            counts.append((spec.name, tensor.scalars.count, tensor.scalars.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }))
            return tensor
        }, layerOutputs: { index, values in
            for (p, v) in values.enumerated() where p < n { statistics[p].append(ProbeTrace.summarize(v)) }
            activations?(index, values)
        })
        let trace = ProbeTrace(layers: ["input"] + model.architecture.layers.map(\.name), statistics: statistics)
        return ProbeRun(outputs: outputs, trace: trace, valueCounts: counts)
    }

    /// The outputs of a model on `inputs`: streamed layer by layer for a few inputs, through the whole network
    /// in memory for many (both give the same bits).
    static func outputs(of model: StreamedModel, inputs: Tensor) throws -> [Float] {
        if (inputs.shape.first ?? 0) <= streamedInputLimit { return try run(model, inputs: inputs).outputs }
        return try model.network().predict(.floats(inputs.scalars), threads: 2)
    }

    /// Up to this many inputs run layer by layer; more run through the whole network.
    static let streamedInputLimit = 64
}

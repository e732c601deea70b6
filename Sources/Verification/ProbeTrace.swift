import ConvNet
import Foundation
import ModelArchive

/// Per-layer summaries of the probe activations, stored with the probes so that a verifier can name the first
/// layer whose activations changed, not only that the outputs did.
///
/// For probe `i` and layer `l` (entry 0 is the preprocessed input) it keeps the float64 sum, the sum of absolute
/// values and the largest absolute value of the layer's float32 outputs. Stored as JSON in the document metadata
/// under ``metadataKey`` so every format carries it without a format change.
public struct ProbeTrace: Codable, Sendable, Hashable {
    /// The metadata key the trace is stored under.
    public static let metadataKey = "cnnkit.probe_trace"

    /// `input`, then each layer's name.
    public var layers: [String]
    /// `[probe][layer][sum, sum |x|, max |x|]`.
    public var statistics: [[[Double]]]

    /// Computes the trace of `network` on the probe inputs.
    public init(network: Network, inputs: Tensor) throws {
        layers = ["input"] + network.architecture.layers.map(\.name)
        let n = inputs.shape.first ?? 0
        let size = network.inputCount
        statistics = try (0..<n).map { i in
            let outputs = try network.layerOutputs(Array(inputs.scalars[(i * size)..<((i + 1) * size)]))
            return outputs.map(ProbeTrace.summarize)
        }
    }

    static func summarize(_ values: [Float]) -> [Double] {
        var sum = 0.0, abs = 0.0, maxAbs = 0.0
        for v in values {
            let d = Double(v)
            sum += d
            abs += Swift.abs(d)
            maxAbs = Swift.max(maxAbs, Swift.abs(d))
        }
        return [sum, abs, maxAbs]
    }

    /// The trace as compact JSON (deterministic: Swift prints the shortest round-tripping form of each double).
    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

extension ModelDocument {
    /// A document for `network` with probes recorded on `inputs`: the outputs and the per-layer trace.
    public static func recording(network: Network, probeInputs: Tensor, source: String, trainingState: TrainingState? = nil,
                                 metadata: [String: String] = [:]) throws -> ModelDocument {
        let probes = try Probes.record(network: network, inputs: probeInputs, source: source)
        var metadata = metadata
        metadata[ProbeTrace.metadataKey] = try ProbeTrace(network: network, inputs: probeInputs).jsonString()
        return ModelDocument(network: network, trainingState: trainingState, probes: probes, metadata: metadata)
    }
}

import ConvNet

/// Why tensors keyed by name could not be assembled into a document: the tensor (or nil) and a reason phrased
/// to follow its name.
public struct DocumentAssemblyFailure: Error, Sendable, Equatable {
    public var name: String?
    public var reason: String
}

extension ModelDocument {
    /// Assembles a document from tensors stored flat under their exchange names, as safetensors and npz store
    /// them: every parameter of `specs`, every optimizer slot of `state` (`optimizer.<parameter>.<slot>`), and
    /// the probe inputs and outputs when either is present. Every tensor must be claimed.
    ///
    /// - Parameters:
    ///   - tensors: the stored tensors by name.
    ///   - specs: `architecture.parameterSpecs()`, computed (and its failure reported) by the caller.
    ///   - probeNames: the names the format gives the probe inputs and outputs.
    ///   - unclaimedReason: what to say after the name of a tensor nothing claims.
    /// - Throws: ``DocumentAssemblyFailure`` naming the missing, mis-shaped or unclaimed tensor.
    public static func assemble(tensors: [String: Tensor], architecture: Architecture, specs: [ParameterSpec], state: TrainingState?,
                                probeNames: (inputs: String, outputs: String), probesSource: String?, metadata: [String: String],
                                unclaimedReason: String) throws(DocumentAssemblyFailure) -> ModelDocument {
        var pool = tensors
        func take(_ name: String, shape: [Int]) throws(DocumentAssemblyFailure) -> Tensor {
            guard let t = pool.removeValue(forKey: name) else { throw DocumentAssemblyFailure(name: name, reason: "missing (expected shape \(shape))") }
            guard t.shape == shape else { throw DocumentAssemblyFailure(name: name, reason: "expected shape \(shape), found \(t.shape)") }
            return t
        }
        var parameters: [NamedTensor] = []
        for spec in specs { parameters.append(NamedTensor(name: spec.name, tensor: try take(spec.name, shape: spec.shape))) }
        var state = state
        if var s = state {
            s.slots = []
            for spec in specs {
                for slot in s.optimizer.slotNames {
                    let name = TrainingState.slotName(parameter: spec.name, slot: slot)
                    s.slots.append(NamedTensor(name: name, tensor: try take(name, shape: spec.shape)))
                }
            }
            state = s
        }
        var probes: Probes?
        let hasInputs = pool[probeNames.inputs] != nil, hasOutputs = pool[probeNames.outputs] != nil
        if hasInputs || hasOutputs {
            guard hasInputs, hasOutputs else {
                throw DocumentAssemblyFailure(name: hasInputs ? probeNames.outputs : probeNames.inputs, reason: "missing (probes need both inputs and outputs)")
            }
            let n = pool[probeNames.inputs]?.shape.first ?? 0
            let input = architecture.input
            let outputCount: Int
            do { outputCount = try architecture.outputShape().count } catch { throw DocumentAssemblyFailure(name: nil, reason: "\(error)") }
            let inputs = try take(probeNames.inputs, shape: [n, input.height, input.width, input.channels])
            let outputs = try take(probeNames.outputs, shape: [n, outputCount])
            probes = Probes(inputs: inputs, outputs: outputs, source: probesSource ?? "")
        }
        if let extra = pool.keys.sorted().first { throw DocumentAssemblyFailure(name: extra, reason: unclaimedReason) }
        return ModelDocument(architecture: architecture, tensors: parameters, trainingState: state, probes: probes, metadata: metadata)
    }
}

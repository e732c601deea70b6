import ConvNet

/// Why tensors keyed by name could not be assembled into a document: the tensor (or nil) and a reason phrased
/// to follow its name.
public struct DocumentAssemblyFailure: Error, Sendable, Equatable {
    /// The tensor concerned, if one.
    public var name: String?
    /// What is wrong, phrased to follow the name.
    public var reason: String
}

/// Which stored tensors make a document, decided from names and shapes alone (no values read): the
/// parameters in the architecture's order, the optimizer slots, and the probe tensors when present.
public struct DocumentLayout: Sendable, Equatable {
    /// Parameters, in the architecture's order.
    public var parameters: [TensorDescriptor]
    /// Optimizer slots, in the training state's order.
    public var slots: [TensorDescriptor]
    /// The stored names of the probe inputs and outputs, when the file has probes.
    public var probes: (inputs: TensorDescriptor, outputs: TensorDescriptor)?
    /// The training state's scalars (its slots are ``slots``).
    public var trainingState: TrainingState?

    public static func == (a: DocumentLayout, b: DocumentLayout) -> Bool {
        a.parameters == b.parameters && a.slots == b.slots && a.probes?.inputs == b.probes?.inputs
            && a.probes?.outputs == b.probes?.outputs && a.trainingState == b.trainingState
    }

    /// Claims tensors stored flat under their exchange names, as safetensors and npz store them: every
    /// parameter of `specs`, every optimizer slot of `state` (`optimizer.<parameter>.<slot>`), and the probe
    /// inputs and outputs when either is present. Every tensor must be claimed.
    ///
    /// - Parameters:
    ///   - architecture: the architecture the tensors belong to.
    ///   - state: the training state whose optimizer slots are claimed, if any.
    ///   - shapes: the stored tensors' shapes by name.
    ///   - specs: `architecture.parameterSpecs()`, computed (and its failure reported) by the caller.
    ///   - probeNames: the names the format gives the probe inputs and outputs.
    ///   - unclaimedReason: what to say after the name of a tensor nothing claims.
    /// - Throws: ``DocumentAssemblyFailure`` naming the missing, mis-shaped or unclaimed tensor.
    public init(shapes: [String: [Int]], architecture: Architecture, specs: [ParameterSpec], state: TrainingState?,
                probeNames: (inputs: String, outputs: String), unclaimedReason: String) throws(DocumentAssemblyFailure) {
        var pool = shapes
        func take(_ name: String, shape: [Int]) throws(DocumentAssemblyFailure) -> TensorDescriptor {
            guard let found = pool.removeValue(forKey: name) else { throw DocumentAssemblyFailure(name: name, reason: "missing (expected shape \(shape))") }
            guard found == shape else { throw DocumentAssemblyFailure(name: name, reason: "expected shape \(shape), found \(found)") }
            return TensorDescriptor(name: name, shape: shape)
        }
        var parameters: [TensorDescriptor] = []
        for spec in specs { parameters.append(try take(spec.name, shape: spec.shape)) }
        var slots: [TensorDescriptor] = []
        var state = state
        if var s = state {
            s.slots = []
            for spec in specs {
                for slot in s.optimizer.slotNames {
                    slots.append(try take(TrainingState.slotName(parameter: spec.name, slot: slot), shape: spec.shape))
                }
            }
            state = s
        }
        var probes: (inputs: TensorDescriptor, outputs: TensorDescriptor)?
        let hasInputs = pool[probeNames.inputs] != nil, hasOutputs = pool[probeNames.outputs] != nil
        if hasInputs || hasOutputs {
            guard hasInputs, hasOutputs else {
                throw DocumentAssemblyFailure(name: hasInputs ? probeNames.outputs : probeNames.inputs, reason: "missing (probes need both inputs and outputs)")
            }
            let n = pool[probeNames.inputs]?.first ?? 0
            let input = architecture.input
            let outputCount: Int
            do { outputCount = try architecture.outputShape().count } catch { throw DocumentAssemblyFailure(name: nil, reason: "\(error)") }
            let inputs = try take(probeNames.inputs, shape: [n, input.height, input.width, input.channels])
            let outputs = try take(probeNames.outputs, shape: [n, outputCount])
            probes = (inputs, outputs)
        }
        if let extra = pool.keys.sorted().first { throw DocumentAssemblyFailure(name: extra, reason: unclaimedReason) }
        self.parameters = parameters
        self.slots = slots
        self.probes = probes
        self.trainingState = state
    }
}

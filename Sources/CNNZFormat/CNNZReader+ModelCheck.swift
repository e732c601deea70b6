import ConvNet
import ModelArchive

/// Why a file's tensors do not fit its architecture and training state: the tensor (nil for the architecture
/// itself) and the reason.
struct CNNZModelMismatch: Error {
    var tensor: String?
    var reason: String
}

enum CNNZModelCheck {
    /// The tensors against the architecture and training state (`Schemas/cnnz.md` section 4.2, "Reader
    /// checks"): the `parameter` tensors are exactly the architecture's parameters with their exchange shapes, the
    /// `optimizer_slot` tensors exactly `optimizer.<parameter>.<slot>` for every parameter and every slot of the
    /// training state's optimizer (``ConvNet/OptimizerConfig/slotNames``) with the parameter's shape, and the
    /// probe tensors `[n, height, width, channels]` and `[n, outputs]`. Order is not checked.
    ///
    /// - Throws: ``CNNZModelMismatch`` naming the missing, mis-shaped, unclaimed or mis-roled tensor, or the
    ///   architecture when its shapes do not fit.
    static func check(_ tensors: [(name: String, shape: [Int], role: CNNZTensorRole)], architecture: Architecture,
                      trainingState: TrainingState?) throws(CNNZModelMismatch) {
        let specs: [ParameterSpec]
        do {
            specs = try architecture.parameterSpecs()
        } catch {
            throw CNNZModelMismatch(tensor: nil, reason: "architecture: \(error)")
        }
        var shapes: [String: [Int]] = [:]
        var roles: [String: CNNZTensorRole] = [:]
        for t in tensors {
            shapes[t.name] = t.shape
            roles[t.name] = t.role
        }
        let probeNames = (inputs: tensors.first { $0.role == .probeInputs }?.name ?? "probes.inputs",
                          outputs: tensors.first { $0.role == .probeOutputs }?.name ?? "probes.outputs")
        let layout: DocumentLayout
        do {
            layout = try DocumentLayout(shapes: shapes, architecture: architecture, specs: specs, state: trainingState, probeNames: probeNames,
                                        unclaimedReason: "neither a parameter of the architecture nor an optimizer slot of the training state's optimizer")
        } catch {
            throw CNNZModelMismatch(tensor: error.name, reason: "does not fit the architecture: \(error.reason)")
        }
        let claims = layout.parameters.map { ($0.name, CNNZTensorRole.parameter) } + layout.slots.map { ($0.name, .optimizerSlot) }
            + (layout.probes.map { [($0.inputs.name, CNNZTensorRole.probeInputs), ($0.outputs.name, .probeOutputs)] } ?? [])
        for (name, role) in claims where roles[name] != role {
            throw CNNZModelMismatch(tensor: name, reason: "role \(roles[name]?.rawValue ?? "none"), expected \(role.rawValue) for this name")
        }
    }
}

extension CNNZReader {
    /// ``CNNZModelCheck/check(_:architecture:trainingState:)`` on a file's tensor table.
    ///
    /// - Throws: ``CNNZError/malformedHeader(_:reason:)`` for an architecture whose shapes do not fit,
    ///   ``CNNZError/invalidTensorEntry(_:reason:)`` naming the tensor otherwise.
    static func checkModel(_ tensors: [CNNZTensorInfo], architecture: Architecture, trainingState: TrainingState?,
                           file: String, headerOffset: UInt64) throws {
        do {
            try CNNZModelCheck.check(tensors.map { ($0.name, $0.shape, $0.role) }, architecture: architecture, trainingState: trainingState)
        } catch {
            let at = CNNZLocation(file: file, offset: headerOffset, tensor: error.tensor)
            throw error.tensor == nil ? CNNZError.malformedHeader(at, reason: error.reason) : CNNZError.invalidTensorEntry(at, reason: error.reason)
        }
    }
}

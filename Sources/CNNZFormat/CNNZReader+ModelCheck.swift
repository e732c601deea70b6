import ConvNet
import ModelArchive

extension CNNZReader {
    /// The tensors against the architecture and training state (`Schemas/cnnz.md` section 4.2): the
    /// `parameter` tensors are exactly the architecture's parameters with their exchange shapes, the
    /// `optimizer_slot` tensors exactly `optimizer.<parameter>.<slot>` for every parameter and every slot of the
    /// training state's optimizer (``ConvNet/OptimizerConfig/slotNames``) with the parameter's shape, and the
    /// probe tensors `[n, height, width, channels]` and `[n, outputs]`. Order is not checked.
    ///
    /// - Throws: ``CNNZError/malformedHeader(_:reason:)`` for an architecture whose shapes do not fit,
    ///   ``CNNZError/invalidTensorEntry(_:reason:)`` naming the missing, mis-shaped, unclaimed or mis-roled tensor.
    static func checkModel(_ tensors: [CNNZTensorInfo], architecture: Architecture, trainingState: TrainingState?,
                           file: String, headerOffset: UInt64) throws {
        func at(_ tensor: String?) -> CNNZLocation { CNNZLocation(file: file, offset: headerOffset, tensor: tensor) }
        let specs: [ParameterSpec]
        do {
            specs = try architecture.parameterSpecs()
        } catch {
            throw CNNZError.malformedHeader(at(nil), reason: "architecture: \(error)")
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
            throw CNNZError.invalidTensorEntry(at(error.name), reason: "does not fit the architecture: \(error.reason)")
        }
        let claims = layout.parameters.map { ($0.name, CNNZTensorRole.parameter) } + layout.slots.map { ($0.name, .optimizerSlot) }
            + (layout.probes.map { [($0.inputs.name, CNNZTensorRole.probeInputs), ($0.outputs.name, .probeOutputs)] } ?? [])
        for (name, role) in claims where roles[name] != role {
            throw CNNZError.invalidTensorEntry(at(name), reason: "role \(roles[name]?.rawValue ?? "none"), expected \(role.rawValue) for this name")
        }
    }
}

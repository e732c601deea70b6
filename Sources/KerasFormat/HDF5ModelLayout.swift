import ConvNet
import ModelArchive

/// Everything a model file holds except the values of its parameters and optimizer slots, and where each of
/// those is: what a streaming reader keeps once the file is open.
struct HDF5ModelLayout {
    /// A tensor and its dataset path relative to the root group (such as `model_weights/dense/sequential/dense/kernel`).
    struct Located {
        var descriptor: TensorDescriptor
        var path: String
    }

    var architecture: Architecture
    /// The training state without its slots.
    var trainingState: TrainingState?
    var probes: Probes?
    var metadata: [String: String]
    var parameters: [Located]
    var slots: [Located]
}

extension HDF5ModelLayout {
    /// The whole document, each parameter and slot read by `read`.
    func document(_ read: (Located) throws -> Tensor) throws -> ModelDocument {
        var state = trainingState
        state?.slots = try slots.map { NamedTensor(name: $0.descriptor.name, tensor: try read($0)) }
        return ModelDocument(architecture: architecture, tensors: try parameters.map { NamedTensor(name: $0.descriptor.name, tensor: try read($0)) },
                             trainingState: state, probes: probes, metadata: metadata)
    }
}

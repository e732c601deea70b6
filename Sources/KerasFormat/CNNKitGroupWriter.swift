import ConvNet
import HDF5Format
import ModelArchive

/// Writes the `/cnnkit` group (`Schemas/hdf5-layout.md` §3) that Keras ignores: our architecture JSON, the
/// training state's scalars and history, probes and metadata. Shared by the legacy full-model writer and the
/// Keras 3 weights writer (`.weights.h5`, and the `model.weights.h5` inside a `.keras`).
struct CNNKitGroupWriter {
    let document: ModelDocument
    /// The destination the user named (for messages).
    let file: String

    /// `/cnnkit`: format version, architecture JSON, training state, probes and metadata.
    func write(_ root: HDF5Handle, sink: HDF5Sink) throws {
        let base = "/\(HDF5Layout.cnnkit)"
        let group = try sink.createGroup(root, HDF5Layout.cnnkit, path: base)
        try sink.setInt64(group, "format_version", HDF5Layout.formatVersion, path: base)
        try sink.setString(group, "architecture", document.architecture.jsonString(), path: base)
        if let state = document.trainingState { try writeTraining(group, state: state, sink: sink) }
        if let probes = document.probes {
            let path = "\(base)/\(HDF5Layout.probes)"
            let probesGroup = try sink.createGroup(group, HDF5Layout.probes, path: path)
            try sink.setString(probesGroup, "source", probes.source, path: path)
            try sink.writeFloats(probesGroup, "inputs", shape: probes.inputs.shape, scalars: probes.inputs.scalars, path: "\(path)/inputs")
            try sink.writeFloats(probesGroup, "outputs", shape: probes.outputs.shape, scalars: probes.outputs.scalars, path: "\(path)/outputs")
        }
        let path = "\(base)/\(HDF5Layout.metadata)"
        let metadata = try sink.createGroup(group, HDF5Layout.metadata, path: path)
        for key in document.metadata.keys.sorted() {
            try sink.setString(metadata, key, document.metadata[key] ?? "", path: path)
        }
    }

    /// `/cnnkit/training`: `@state` (the scalars as JSON), `@seed` and dataset attributes for h5py users,
    /// `rng_state` and the per-epoch `history/*` datasets.
    private func writeTraining(_ parent: HDF5Handle, state: TrainingState, sink: HDF5Sink) throws {
        let path = "/\(HDF5Layout.cnnkit)/\(HDF5Layout.training)"
        let group = try sink.createGroup(parent, HDF5Layout.training, path: path)
        var scalars = state
        scalars.slots = []
        scalars.history = []
        let json: String
        do {
            json = String(decoding: try ArchiveJSON.encoder().encode(scalars), as: UTF8.self)
        } catch {
            throw HDF5Error.cannotWrite(file: file, reason: "training state: \(error)")
        }
        try sink.setString(group, "state", json, path: path)
        try sink.setUInt64(group, "seed", state.seed, path: path)
        try sink.setInt64(group, "epoch", Int64(state.epoch), path: path)
        try sink.setInt64(group, "step", Int64(state.step), path: path)
        if let dataset = state.dataset {
            try sink.setString(group, "dataset_name", dataset.name, path: path)
            try sink.setInt64(group, "dataset_train_count", Int64(dataset.trainCount), path: path)
            try sink.setString(group, "dataset_fingerprint", dataset.fingerprint, path: path)
        }
        try sink.writeUInt64s(group, "rng_state", shape: [state.rngState.count], scalars: state.rngState, path: "\(path)/rng_state")
        let historyPath = "\(path)/\(HDF5Layout.history)"
        let history = try sink.createGroup(group, HDF5Layout.history, path: historyPath)
        let n = [state.history.count]
        try sink.writeDoubles(history, "loss", shape: n, scalars: state.history.map(\.loss), path: "\(historyPath)/loss")
        try sink.writeDoubles(history, "train_accuracy", shape: n, scalars: state.history.map(\.trainAccuracy), path: "\(historyPath)/train_accuracy")
        try sink.writeDoubles(history, "test_accuracy", shape: n, scalars: state.history.map { $0.testAccuracy ?? .nan },
                              path: "\(historyPath)/test_accuracy")
    }
}

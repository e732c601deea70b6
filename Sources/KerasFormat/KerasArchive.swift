import ConvNet
import HDF5Format
import ModelArchive

/// Reads and writes Keras 3 `.keras` files: a zip of `metadata.json`, `config.json` and `model.weights.h5`
/// that `keras.saving.load_model` loads, with our architecture, training state, probes and metadata in a
/// `/cnnkit` group of `model.weights.h5` that Keras ignores. The mapping is specified in
/// `Schemas/keras-mapping.md`.
public enum KerasArchive {
    /// Reads a `.keras` file written by Keras 3 or by CNNKit.
    ///
    /// The member list and sizes are checked before anything is extracted, each member's CRC-32 is verified,
    /// and `model.weights.h5` is read with the safety rules of `Schemas/hdf5-layout.md` §4. The architecture is
    /// our `/cnnkit@architecture` when present, else `config.json`'s `Sequential` model.
    ///
    /// - Parameter path: the file.
    /// - Returns: the document; for Keras files of compiled models the training state has the optimizer of
    ///   `compile_config`, its slots and `step` = Keras' `iteration`, epoch 0, batch size 32 and seed 0.
    /// - Throws: ``KerasArchiveError`` for the zip and its members; ``HDF5Format/HDF5Error`` for `config.json`
    ///   (an unsupported layer, named with its class and option) and for `model.weights.h5` (a shape mismatch,
    ///   named with the layer and both shapes).
    public static func read(path: String) throws -> ModelDocument {
        try StreamedModel(reader: open(path: path)).document()
    }

    /// Opens a `.keras` file for streaming: the checks and small parts of ``read(path:)`` now, each weight and
    /// optimizer slot read from the extracted `model.weights.h5` when asked (the reader owns that temporary file).
    ///
    /// - Throws: the errors of ``read(path:)``.
    public static func open(path: String) throws -> any TensorStreamReader {
        try KerasArchiveReader(path: path).open { metadata in
            let kind = "Keras 3 archive (.keras)"
            return metadata["keras_version"].map { "\(kind), Keras \($0)" } ?? kind
        }
    }

    /// Writes a `.keras` file atomically (temporary file, fsync, rename).
    ///
    /// - Parameters:
    ///   - document: the model; a training state adds Keras' `compile_config` and `optimizer/vars`.
    ///   - path: the destination; an existing file is replaced only when the write succeeds.
    ///   - options: dataset storage inside `model.weights.h5` (the zip members are always stored, as Keras
    ///     writes them).
    /// - Throws: ``HDF5Format/HDF5Error/cannotWrite(file:reason:)`` when the document does not fit the layout,
    ///   ``KerasArchiveError`` when the zip cannot be written, or an ``ArchiveError`` from the atomic rename.
    public static func write(_ document: ModelDocument, to path: String, options: HDF5WriteOptions = .init()) throws {
        try write(StreamedModel(document: document), to: path, options: options)
    }

    /// Writes a `.keras` file atomically, fetching one tensor at a time from `model` (the errors of
    /// writing a document, and what fetching a tensor throws).
    public static func write(_ model: StreamedModel, to path: String, options: HDF5WriteOptions = .init()) throws {
        try KerasArchiveWriter(model: model, path: path, options: options).write()
    }
}

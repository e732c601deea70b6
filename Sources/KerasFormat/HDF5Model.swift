import ConvNet
import HDF5Format
import ModelArchive

/// Reads and writes models as HDF5: a Keras 3 legacy full-model file (`keras.models.load_model` loads it) plus
/// a `/cnnkit` group with our architecture, training state, probes and metadata. The layout is specified in
/// `Schemas/hdf5-layout.md`.
public enum HDF5Model {
    /// Reads a model from our HDF5 files, from a Keras legacy `.h5` full-model file, or from a Keras 3
    /// `.weights.h5` file (recognised by its `/layers` group; see ``readKerasWeights(path:architecture:)``).
    ///
    /// Only the paths the layout names are opened; soft and external links, external and virtual datasets, and
    /// dataspaces larger than the stored bytes are refused. Float datasets of any width and byte order are read
    /// as float32; strings may be fixed- or variable-length.
    ///
    /// - Parameters:
    ///   - path: the file to read.
    ///   - architecture: the architecture of a Keras 3 `.weights.h5` file (ignored for full-model files).
    /// - Returns: the document; for Keras files the training state (when the file was compiled) has the
    ///   optimizer, its slots and `step` = Keras' `iteration`, epoch 0, batch size 32 and seed 0.
    /// - Throws: ``HDF5Error`` naming the file, the HDF5 path and what was expected and found.
    public static func read(path: String, architecture: Architecture? = nil) throws -> ModelDocument {
        let source = try HDF5Source.open(path: path, name: path)
        return try HDF5Library.serialized {
            if try KerasWeightsReader.isWeightsLayout(source: source) {
                return try KerasWeightsReader(source: source)
                    .read(.init(architecture: architecture, fallbackArchitecture: { try KerasConfigFile.sibling(of: path) }))
            }
            return try HDF5ModelReader(source: source).read()
        }
    }

    /// Writes a model atomically (temporary file, fsync, rename through ``AtomicFile``).
    ///
    /// - Parameters:
    ///   - document: the model; its tensors and slots must match its architecture.
    ///   - path: the destination; an existing file is replaced only when the write succeeds.
    ///   - options: dataset storage (contiguous by default, as Keras writes).
    /// - Throws: ``HDF5Error/cannotWrite(file:reason:)`` when the document does not fit the layout,
    ///   ``HDF5Error/cannotCreate(file:reason:)`` or ``HDF5Error/callFailed(file:location:call:stack:writing:)``
    ///   when writing fails, or an ``ArchiveError`` from the atomic rename.
    public static func write(_ document: ModelDocument, to path: String, options: HDF5WriteOptions = .init()) throws {
        try write(StreamedModel(document: document), to: path, options: options)
    }

    /// Writes a model whose tensors are fetched one at a time (each right before its dataset is written and
    /// released after), with the same bytes as ``write(_:to:options:)-(ModelDocument,_,_)`` for the same model.
    ///
    /// - Throws: as ``write(_:to:options:)-(ModelDocument,_,_)``, or what fetching a tensor throws.
    public static func write(_ model: StreamedModel, to path: String, options: HDF5WriteOptions = .init()) throws {
        try write(HDF5ModelWriter(model: model, file: path, options: options), to: path)
    }

    /// Checks that the model fits the writer's layout, then writes it atomically: into a temporary file, unnamed
    /// where the system allows (O_TMPFILE, so that kill -9 leaves nothing: HDF5Sink writes a /proc/self/fd/N
    /// temporary through its descriptor), removed if libhdf5 stalls, renamed over `path` when complete.
    static func write(_ writer: some HDF5LayoutWriter, to path: String) throws {
        try writer.validate()
        try AtomicFile.write(to: path) { temp in
            try HDF5Library.removeOnStall([temp]) { try HDF5Library.serialized { try writer.write(temp: temp) } }
        }
    }
}

/// A writer of one of Keras' HDF5 layouts (the legacy full model, the Keras 3 weights file).
protocol HDF5LayoutWriter {
    /// Refuses a model the layout cannot hold, before anything is written.
    func validate() throws
    /// Writes the whole file at `temp`.
    func write(temp: String) throws
}

extension HDF5ModelWriter: HDF5LayoutWriter {}
extension KerasWeightsWriter: HDF5LayoutWriter {}

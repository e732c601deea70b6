import ConvNet
import HDF5Format
import ModelArchive

extension HDF5Model {
    /// Reads a Keras 3 weights file (`model.save_weights("m.weights.h5")`, or one CNNKit wrote), whose layout
    /// is `layers/<group>/vars/<i>` (`Schemas/keras-mapping.md` §2).
    ///
    /// The file holds no architecture. It is, in order: `architecture`; our `/cnnkit@architecture`; the Keras
    /// `config.json` beside a file named `model.weights.h5` (Keras' folder format). Every layer's variables
    /// must have exactly the shapes the architecture implies. Keras' `/optimizer/vars` is read only for our
    /// files (whose `/cnnkit` records the optimizer); a Keras file gives no training state.
    ///
    /// - Parameters:
    ///   - path: the file.
    ///   - architecture: the model's architecture (from `--architecture FILE.json`); nil uses the file's own.
    /// - Returns: the document; training state, probes and metadata only when the file is ours and its
    ///   architecture equals the one used.
    /// - Throws: ``HDF5Error``: `invalid` naming the layer and both shapes on a mismatch, or saying that an
    ///   architecture is needed; any error of ``read(path:architecture:)``.
    public static func readKerasWeights(path: String, architecture: Architecture?) throws -> ModelDocument {
        try StreamedModel(reader: openKerasWeights(path: path, architecture: architecture)).document()
    }

    /// Opens a Keras 3 weights file for streaming: the checks and small parts of
    /// ``readKerasWeights(path:architecture:)`` now, each weight and optimizer slot read when asked.
    ///
    /// - Throws: the errors of ``readKerasWeights(path:architecture:)``.
    public static func openKerasWeights(path: String, architecture: Architecture?) throws -> HDF5TensorReader {
        let (source, layout) = try readKerasWeightsLayout(path: path, name: path, architecture: architecture, optimizer: nil,
                                                          fallback: { try KerasConfigFile.sibling(of: path) })
        return HDF5TensorReader(file: path, source: source, layout: layout)
    }

    /// Opens the Keras 3 weights layout in a file that is part of another (the `model.weights.h5` of a `.keras`,
    /// extracted to `path`) and reads everything but the weights and slots, which it locates.
    ///
    /// - Parameters:
    ///   - path: the extracted file.
    ///   - name: how messages name it, such as `m.keras:model.weights.h5`.
    ///   - architecture: the architecture from the container's config (our `/cnnkit@architecture` wins when the
    ///     file has one).
    ///   - optimizer: the optimizer of the container's `compile_config`, to read Keras' `/optimizer/vars`.
    /// - Returns: the open file and its layout.
    /// - Throws: ``HDF5Error`` naming `name`, the HDF5 path and what was expected and found.
    static func readKerasWeightsLayout(path: String, name: String, architecture: Architecture, optimizer: OptimizerConfig?) throws
        -> (HDF5Source, HDF5ModelLayout) {
        // Our architecture, when present, is authoritative (as in our .h5 files); the container's is the fallback.
        try readKerasWeightsLayout(path: path, name: name, architecture: nil, optimizer: optimizer, fallback: { architecture })
    }

    private static func readKerasWeightsLayout(path: String, name: String, architecture: Architecture?, optimizer: OptimizerConfig?,
                                               fallback: @escaping () throws -> Architecture?) throws -> (HDF5Source, HDF5ModelLayout) {
        let source = try HDF5Source.open(path: path, name: name)
        let layout = try HDF5Library.serialized {
            guard try KerasWeightsReader.isWeightsLayout(source: source) else {
                throw source.check.invalid("/", "not the Keras 3 weights layout (expected a /layers group and no /model_weights)")
            }
            return try KerasWeightsReader(source: source)
                .readLayout(.init(architecture: architecture, fallbackArchitecture: fallback, optimizer: optimizer))
        }
        return (source, layout)
    }

    /// Writes a model as a Keras 3 weights file (`.weights.h5`) atomically: what Keras' `load_weights` reads,
    /// plus the `/cnnkit` group with our architecture, training state, probes and metadata.
    ///
    /// - Parameters:
    ///   - document: the model; its tensors and slots must match its architecture.
    ///   - path: the destination; an existing file is replaced only when the write succeeds.
    ///   - options: dataset storage (contiguous by default, as Keras writes).
    /// - Throws: ``HDF5Error/cannotWrite(file:reason:)`` when the document does not fit the layout,
    ///   ``HDF5Error/cannotCreate(file:reason:)`` or ``HDF5Error/callFailed(file:location:call:stack:writing:)``
    ///   when writing fails, or an ``ArchiveError`` from the atomic rename.
    public static func writeKerasWeights(_ document: ModelDocument, to path: String, options: HDF5WriteOptions = .init()) throws {
        try writeKerasWeights(StreamedModel(document: document), to: path, options: options)
    }

    /// Writes a Keras 3 weights file atomically, fetching one tensor at a time from `model` (each right before
    /// its dataset is written, released after): the bytes of ``writeKerasWeights(_:to:options:)-(ModelDocument,_,_)``.
    ///
    /// - Throws: as ``writeKerasWeights(_:to:options:)-(ModelDocument,_,_)``, or what fetching a tensor throws.
    public static func writeKerasWeights(_ model: StreamedModel, to path: String, options: HDF5WriteOptions = .init()) throws {
        try write(KerasWeightsWriter(model: model, file: path, options: options), to: path)
    }

    /// Writes the Keras 3 weights layout straight to `path` (not atomically), for a file that becomes part of
    /// another (the `model.weights.h5` of a `.keras`), fetching one tensor at a time.
    ///
    /// - Parameters:
    ///   - model: the model.
    ///   - path: a fresh temporary file.
    ///   - name: how messages name the output, such as `m.keras:model.weights.h5`.
    ///   - options: dataset storage.
    /// - Throws: the errors of ``writeKerasWeights(_:to:options:)``.
    public static func writeKerasWeights(_ model: StreamedModel, toPart path: String, name: String, options: HDF5WriteOptions = .init()) throws {
        let writer = KerasWeightsWriter(model: model, file: name, options: options)
        try writer.validate()
        try HDF5Library.removeOnStall([path]) { try HDF5Library.serialized { try writer.write(temp: path) } }
    }
}

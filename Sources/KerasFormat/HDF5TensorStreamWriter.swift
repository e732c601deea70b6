import HDF5Format
import ModelArchive

/// Writes HDF5 files from a ``StreamedModel``, one dataset at a time (``HDF5Model/write(_:to:options:)-(StreamedModel,_,_)``).
///
/// The files are the legacy full-model layout with our `/cnnkit` group, byte for byte what ``HDF5Model`` writes
/// for the same model held in memory.
public struct HDF5TensorStreamWriter: TensorStreamWriter {
    /// Dataset storage of the files written.
    public var options: HDF5WriteOptions

    /// Creates a writer.
    ///
    /// - Parameter options: dataset storage (contiguous by default, as Keras writes).
    public init(options: HDF5WriteOptions = .init()) {
        self.options = options
    }

    /// Writes `model` to `path` atomically, fetching each tensor right before its dataset is written.
    ///
    /// - Throws: the errors of ``HDF5Model/write(_:to:options:)-(StreamedModel,_,_)``.
    public func write(_ model: StreamedModel, to path: String) throws {
        try HDF5Model.write(model, to: path, options: options)
    }
}

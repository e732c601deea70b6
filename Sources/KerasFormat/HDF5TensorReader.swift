import ConvNet
import HDF5Format
import ModelArchive

/// An HDF5 model file opened for streaming (``TensorStreamReader``): opening reads the small parts (attributes,
/// architecture, training-state scalars, history, probes, metadata, `weight_names`) and locates every
/// parameter and optimizer slot; ``readTensor(named:)`` then reads one dataset, checked as
/// ``HDF5Model/read(path:)`` checks it. The file stays open until the reader is released.
///
/// A `.keras` file's reader is one too, over its `model.weights.h5` extracted to a temporary file, which the
/// reader owns (removed when it is released, or by the watchdog should libhdf5 never return on it).
public final class HDF5TensorReader: TensorStreamReader {
    /// The file as the user named it.
    public let file: String
    /// The open file; closed when the reader is released.
    private let source: HDF5Source
    private let layout: HDF5ModelLayout
    private let locations: [String: HDF5ModelLayout.Located]
    /// The file the source reads when it is a part of `file` (a `.keras` file's `model.weights.h5`).
    private let part: TemporaryFile?
    /// The format's variant as `inspect` shows it, when the file's name does not say it.
    let variant: String?
    public let header: ModelHeader

    /// Opens a file and reads everything but the tensor values.
    ///
    /// - Throws: ``HDF5Error`` naming the file, the HDF5 path and what was expected and found.
    public convenience init(path: String) throws {
        let source = try HDF5Source.open(path: path, name: path)
        self.init(file: path, source: source, layout: try HDF5Library.serialized { try HDF5ModelReader(source: source).readLayout() })
    }

    /// A reader over a layout already read from `source`; `part`, when given, is the temporary file `source`
    /// reads, removed with the reader.
    init(file: String, source: HDF5Source, layout: HDF5ModelLayout, part: TemporaryFile? = nil, variant: String? = nil) {
        self.file = file
        self.source = source
        self.layout = layout
        self.part = part
        self.variant = variant
        header = ModelHeader(architecture: layout.architecture, trainingState: layout.trainingState, probes: layout.probes,
                             metadata: layout.metadata, parameters: layout.parameters.map(\.descriptor), slots: layout.slots.map(\.descriptor))
        var locations: [String: HDF5ModelLayout.Located] = [:]
        for located in layout.parameters + layout.slots where locations[located.descriptor.name] == nil {
            locations[located.descriptor.name] = located
        }
        self.locations = locations
    }

    deinit { part?.remove() }

    /// Reads one parameter or optimizer slot.
    ///
    /// - Throws: ``HDF5Error/invalid(file:location:reason:)`` for a name the file does not hold, or the
    ///   dataset's read error.
    public func readTensor(named name: String) throws -> Tensor {
        guard let located = locations[name] else {
            throw HDF5Error.invalid(file: file, location: "/", reason: "no parameter or optimizer slot named \(name)")
        }
        return try HDF5Library.removeOnStall(part.map { [$0.path] } ?? []) {
            try HDF5Library.serialized { try HDF5ModelReader(source: source).readTensor(located) }
        }
    }
}

import ConvNet
import HDF5Format
import ModelArchive

/// The HDF5 format: recognised by the superblock signature; full-model files and Keras 3 `.weights.h5` files
/// (written in that layout when so named, as Keras' `save_weights` requires) are read and written one dataset at
/// a time.
public struct HDF5FileFormat: ModelFileFormat {
    /// The HDF5 superblock signature `\x89HDF\r\n\x1a\n`.
    public static let magic: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    public init() {}

    public let info = FormatInfo(format: "hdf5", displayName: "HDF5", extensions: ["h5", "hdf5"], capabilities: .init(compression: true, trainingState: true),
        integrity: "hdf5 file read; Fletcher-32 checksums verified by libhdf5 on datasets that carry them", magic: Self.magic)

    /// Which of the file's datasets carry Fletcher-32 checksums (optional per dataset: CNNKit writes them with
    /// `--compression deflate`, contiguous datasets carry none), so that "verified" is said only of those.
    public func integrity(of path: String) -> String {
        guard let census = try? HDF5Source.open(path: path, name: path).checksumCensus() else { return integrity }
        let (datasets, fletcher) = census
        if fletcher == 0 {
            return "hdf5 file read; none of its \(datasets) datasets carries a Fletcher-32 checksum, so libhdf5 verified no checksum (CNNKit adds them with --compression deflate)"
        }
        return "hdf5 file read; Fletcher-32 checksums of \(fletcher) of \(datasets) datasets verified by libhdf5 as they were read"
            + (fletcher < datasets ? " (the other \(datasets - fletcher) carry none)" : "")
    }

    /// True for a Keras 3 weights file name (`*.weights.h5`): HDF5 in the Keras 3 weights layout rather than a
    /// full-model file. Writers choose the layout by this name.
    public static func isKerasWeightsPath(_ path: String) -> Bool {
        path.lowercased().hasSuffix(".weights.h5")
    }

    /// Opens a file for streaming: a Keras 3 weights file (recognised by its `/layers` group; its architecture is
    /// `architecture`, our `/cnnkit` group's, or a sibling `config.json`'s) or a full-model file. When the
    /// full-model reader refuses a file, the whole-file reader has the last word on what is wrong with it.
    ///
    /// The layout readers open only the paths the layout names. Then the whole object tree is walked, as h5py's
    /// `visititems` and h5dump walk it, and every object is opened once (the walk ``integrity(of:)`` counts
    /// checksums with), so that damage anywhere in the file's structure (a group Keras reads and CNNKit does not,
    /// an empty group's local heap, a B-tree) refuses the file instead of letting it pass as read whole.
    public func openReader(path: String, architecture: Architecture?) throws -> any TensorStreamReader {
        // One open of the file for the layout check and the walk; the reader keeps an open of its own.
        let source = try HDF5Source.open(path: path, name: path)
        let reader: any TensorStreamReader
        if try HDF5Library.serialized({ try KerasWeightsReader.isWeightsLayout(source: source) }) {
            reader = try HDF5Model.openKerasWeights(path: path, architecture: architecture)
        } else if let streaming = try? HDF5TensorReader(path: path) {
            reader = streaming
        } else {
            let document = try HDF5Model.read(path: path, architecture: architecture)
            reader = DocumentReader(document, formatVersion: Self.variant(path: path, metadata: document.metadata))
        }
        _ = try source.visitEveryObject()
        _ = try source.checksumCensus()
        return reader
    }

    public func write(_ model: StreamedModel, to path: String, options: SaveOptions) throws {
        try check(options, path: path)
        let hdf5 = HDF5WriteOptions(compression: options.compress ? .deflate(level: options.level) : .none)
        if Self.isKerasWeightsPath(path) {
            try HDF5Model.writeKerasWeights(model, to: path, options: hdf5)
        } else {
            try HDF5Model.write(model, to: path, options: hdf5)
        }
    }
}

extension HDF5FileFormat {
    /// Which of Keras' HDF5 layouts a file is, and the Keras version that wrote it when recorded.
    static func variant(path: String, metadata: [String: String]) -> String {
        let kind = isKerasWeightsPath(path) ? "Keras 3 weights (.weights.h5)" : "Keras legacy full model (.h5)"
        return metadata["keras_version"].map { "\(kind), Keras \($0)" } ?? kind
    }
}

extension HDF5TensorReader {
    public var formatVersion: String { variant ?? HDF5FileFormat.variant(path: file, metadata: metadata) }
}

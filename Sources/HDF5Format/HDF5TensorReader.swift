import CHDF5
import ConvNet
import Glibc
import ModelArchive

/// An HDF5 model file opened for streaming (``TensorStreamReader``): opening reads the small parts (attributes,
/// architecture, training-state scalars, history, probes, metadata, `weight_names`) and locates every
/// parameter and optimizer slot; ``readTensor(named:)`` then reads one dataset, checked as
/// ``HDF5Model/read(path:)`` checks it. The file stays open until the reader is released.
public final class HDF5TensorReader: TensorStreamReader {
    /// The file as the user named it.
    public let file: String
    private let fapl: hid_t
    private let fileID: hid_t
    private let root: hid_t
    private let source: HDF5Source
    private let layout: HDF5ModelLayout
    private let locations: [String: HDF5ModelLayout.Located]

    /// Opens a file and reads everything but the tensor values.
    ///
    /// - Throws: ``HDF5Error`` naming the file, the HDF5 path and what was expected and found.
    public init(path: String) throws {
        guard access(path, R_OK) == 0 else { throw HDF5Error.missingFile(file: path, reason: errnoText()) }
        file = path
        (fapl, fileID, root, source, layout) = try HDF5Library.serialized {
            let check = HDF5Checker(file: path, writing: false)
            let fapl = try check.id("H5Pcreate", "/", H5Pcreate(cnnkit_H5P_FILE_ACCESS()))
            var opened: [hid_t] = []
            do {
                // Close every object with the file, so that nothing of a malformed file outlives it.
                try check.status("H5Pset_fclose_degree", "/", H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG))
                let file = try check.id("H5Fopen", "/", H5Fopen(path, cnnkit_H5F_ACC_RDONLY(), fapl))
                opened.append(file)
                var size: hsize_t = 0
                try check.status("H5Fget_filesize", "/", H5Fget_filesize(file, &size))
                let root = try check.id("H5Gopen2", "/", H5Gopen2(file, "/", h5Default))
                opened.append(root)
                let source = HDF5Source(check: check, fileSize: Int(clamping: size))
                let layout = try HDF5ModelReader(source: source, root: root).readLayout()
                return (fapl, file, root, source, layout)
            } catch {
                if opened.count > 1 { H5Gclose(opened[1]) }
                if let file = opened.first { H5Fclose(file) }
                H5Pclose(fapl)
                throw error
            }
        }
        var locations: [String: HDF5ModelLayout.Located] = [:]
        for located in layout.parameters + layout.slots where locations[located.descriptor.name] == nil {
            locations[located.descriptor.name] = located
        }
        self.locations = locations
    }

    deinit {
        let (root, fileID, fapl) = (root, fileID, fapl)
        HDF5Library.serialized {
            H5Gclose(root)
            H5Fclose(fileID)
            H5Pclose(fapl)
        }
    }

    public var architecture: Architecture { layout.architecture }
    public var trainingState: TrainingState? { layout.trainingState }
    public var probes: Probes? { layout.probes }
    public var metadata: [String: String] { layout.metadata }
    public var parameterTensors: [TensorDescriptor] { layout.parameters.map(\.descriptor) }
    public var slotTensors: [TensorDescriptor] { layout.slots.map(\.descriptor) }

    /// Reads one parameter or optimizer slot.
    ///
    /// - Throws: ``HDF5Error/invalid(file:location:reason:)`` for a name the file does not hold, or the
    ///   dataset's read error.
    public func readTensor(named name: String) throws -> Tensor {
        guard let located = locations[name] else {
            throw HDF5Error.invalid(file: file, location: "/", reason: "no parameter or optimizer slot named \(name)")
        }
        return try HDF5Library.serialized { try HDF5ModelReader(source: source, root: root).readTensor(located) }
    }

    /// Reads every tensor into a document.
    public func readDocument() throws -> ModelDocument {
        try HDF5Library.serialized { () throws -> ModelDocument in
            let reader = HDF5ModelReader(source: source, root: root)
            var state = layout.trainingState
            state?.slots = try layout.slots.map { NamedTensor(name: $0.descriptor.name, tensor: try reader.readTensor($0)) }
            return ModelDocument(architecture: layout.architecture,
                                 tensors: try layout.parameters.map { NamedTensor(name: $0.descriptor.name, tensor: try reader.readTensor($0)) },
                                 trainingState: state, probes: layout.probes, metadata: layout.metadata)
        }
    }
}

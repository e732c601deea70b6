import CNNZFormat
import Foundation
import ModelArchive

/// How one tensor is stored in its file, where the format says.
public struct TensorStorage: Sendable, Hashable, Encodable {
    public var dtype: String
    public var codec: String
    public var storedBytes: Int?
    public var rawBytes: Int

    enum CodingKeys: String, CodingKey { case dtype, codec, storedBytes = "stored_bytes", rawBytes = "raw_bytes" }
}

/// What `cnnkit inspect` shows about a file beyond its document: format, version, size, tensor storage.
public struct StorageSummary: Sendable, Encodable {
    public var format: ModelFormat
    public var version: String
    public var fileBytes: Int
    public var tensors: [String: TensorStorage]

    enum CodingKeys: String, CodingKey { case format, version, fileBytes = "file_bytes", tensors }
}

extension ModelFiles {
    /// The storage details of a file that `load` has already read successfully.
    public static func storage(of path: String, document: ModelDocument) throws -> StorageSummary {
        let format = try format(of: path)
        let size = ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.intValue ?? 0
        var summary = StorageSummary(format: format, version: "", fileBytes: size, tensors: [:])
        switch format {
        case .cnnz:
            let reader = try CNNZReader(path: path)
            summary.version = "\(reader.majorVersion).\(reader.minorVersion)"
            for t in reader.tensors {
                summary.tensors[t.name] = TensorStorage(dtype: t.dtype.rawValue, codec: t.codec.rawValue, storedBytes: Int(t.storedBytes), rawBytes: Int(t.rawBytes))
            }
        case .hdf5, .keras:
            let kind = format == .keras ? "Keras 3 archive (.keras)" : ModelFormat.isKerasWeightsPath(path) ? "Keras 3 weights (.weights.h5)" : "Keras legacy full model (.h5)"
            summary.version = document.metadata["keras_version"].map { "\(kind), Keras \($0)" } ?? kind
            for t in document.tensors {
                summary.tensors[t.name] = TensorStorage(dtype: "float32", codec: format.rawValue, storedBytes: nil, rawBytes: t.tensor.count * 4)
            }
        default:
            for t in document.tensors {
                summary.tensors[t.name] = TensorStorage(dtype: "float32", codec: format.rawValue, storedBytes: nil, rawBytes: t.tensor.count * 4)
            }
        }
        return summary
    }
}

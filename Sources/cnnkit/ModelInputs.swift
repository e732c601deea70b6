import ArgumentParser
import ConvNet
import Datasets
import Foundation
import InteropNumPy
import ModelArchive
import ModelFiles

/// One JSON document with sorted keys.
func jsonLine<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
}

/// Loads a model file into a network, printing a warning when the extension disagrees with the content.
func loadNetwork(_ path: String, architecture: String?) throws -> Network {
    try loadDocument(path, architecture: architecture).network()
}

func loadDocument(_ path: String, architecture: String?) throws -> ModelDocument {
    try openModel(path, architecture: architecture).model.document()
}

/// Opens a model file, printing a warning when the extension disagrees with the content.
/// `mapped`: map the file where the format allows views of its tensors (`ModelFiles.open`).
func openModel(_ path: String, architecture: String?, mapped: Bool = false) throws -> OpenedModel {
    let format = try ModelFiles.format(of: path)
    if let warning = ModelFiles.extensionWarning(path: path, format: format) { printError("warning: " + warning) }
    return try ModelFiles.open(path, architecture: try architecture.map(loadArchitecture), mapped: mapped)
}

/// Images as raw float pixels from an IDX or .npy file, checked against the model's input shape. The file is
/// read only if it is a regular file (``InputFile``): a FIFO, device or socket is refused (exit 66). Float images
/// whose values all lie in [0, 1] get a warning when the model expects raw pixels 0-255 (its preprocessing
/// scales by 1/255 or less): they were most likely scaled already, and the model would scale them again.
func loadImages(_ path: String, shape: ActivationShape, preprocessing: Preprocessing? = nil) throws -> (count: Int, values: [Float]) {
    let bytes = try InputFile.read(path)
    let dims: [Int], values: [Float]
    if bytes.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) {
        let array = try NumPyArray.parse(bytes, path: path)
        dims = array.shape
        values = array.values
        if array.descriptor.dropFirst().hasPrefix("f"), let preprocessing, preprocessing.scale > 0, preprocessing.scale <= 1.0 / 128,
           let low = values.min(), let high = values.max(), high <= 1.0 {
            let top = Double(preprocessing.scale) > 0 ? (1 / Double(preprocessing.scale)).rounded() : 255
            printError(String(format: "warning: %@: float pixels in [%g, %g], but the model expects raw pixels 0-%g (it applies x * %g + %g itself); scale them back to 0-%g, or the predictions are meaningless",
                              path, Double(low), Double(high), top, Double(preprocessing.scale), Double(preprocessing.offset), top))
        }
    } else {
        let idx: IDXFile
        do {
            idx = Gzip.isGzip(bytes) ? try IDXFile.parse(Gzip.decompress(bytes, limit: IDXFile.maximumSize, path: path), path: path)
                                     : try IDXFile.parse(bytes, path: path)
        } catch let error as ConvNetError {
            throw ArchiveError.invalid(path: path, location: nil, reason: "not a .npy or IDX image file: \(error.description)")
        }
        dims = idx.dimensions
        values = idx.bytes.map(Float.init)
    }
    let expected = [shape.height, shape.width, shape.channels]
    let matches = (dims.count == 4 && Array(dims[1...]) == expected) || (dims.count == 3 && shape.channels == 1 && Array(dims[1...]) == [shape.height, shape.width])
    guard matches else {
        throw ArchiveError.invalid(path: path, location: nil, reason: "images of shape \(dims) do not fit the model input N x \(expected.map(String.init).joined(separator: " x "))")
    }
    return (dims[0], values)
}

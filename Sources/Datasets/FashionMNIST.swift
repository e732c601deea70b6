import ConvNet
import Foundation
import ModelArchive

/// The Fashion-MNIST files as Debian's `dataset-fashion-mnist` installs them.
public enum FashionMNIST {
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    public static let debianPackage = "dataset-fashion-mnist"
    /// The ten class names, by label.
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    public enum Split: String, Sendable {
        case train
        case test

        var prefix: String { self == .train ? "train" : "t10k" }
    }

    /// Loads one split, optionally only its first `limit` examples.
    ///
    /// - Throws: ``ConvNetError/datasetMissing(path:package:)`` when a file is absent (naming the apt package),
    ///   ``ConvNetError/datasetCorrupt(path:offset:reason:)`` for a bad header, truncation or mismatch.
    public static func load(directory: String = defaultDirectory, split: Split, limit: Int? = nil) throws -> Dataset {
        let imagesPath = try locate(directory: directory, base: "\(split.prefix)-images-idx3-ubyte")
        let labelsPath = try locate(directory: directory, base: "\(split.prefix)-labels-idx1-ubyte")
        let images = try IDXFile.read(path: imagesPath)
        let labels = try IDXFile.read(path: labelsPath)
        guard images.dimensions.count == 3 else {
            throw DatasetError.datasetCorrupt(path: imagesPath, offset: 3, reason: "expected 3 dimensions (N, H, W), found \(images.dimensions.count)")
        }
        guard labels.dimensions.count == 1 else {
            throw DatasetError.datasetCorrupt(path: labelsPath, offset: 3, reason: "expected 1 dimension (N), found \(labels.dimensions.count)")
        }
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw DatasetError.datasetCorrupt(path: labelsPath, offset: 4,
                                              reason: "holds \(labels.dimensions[0]) labels but \(imagesPath) holds \(images.dimensions[0]) images")
        }
        if let bad = labels.bytes.firstIndex(where: { $0 > 9 }) {
            throw DatasetError.datasetCorrupt(path: labelsPath, offset: labels.dataOffset + bad, reason: "label \(labels.bytes[bad]) is not a class 0-9")
        }
        let set = Dataset(images: images.bytes, labels: labels.bytes, height: images.dimensions[1], width: images.dimensions[2])
        return set.prefix(limit)
    }

    /// The first of `BASE.gz` and `BASE` in `directory` that exists. One that exists but is not a regular file
    /// (a FIFO, device, socket, folder, symbolic link loop) is refused with
    /// ``DatasetError/datasetUnreadable(path:reason:)``, not skipped (``InputFile``).
    static func locate(directory: String, base: String) throws -> String {
        for candidate in ["\(directory)/\(base).gz", "\(directory)/\(base)"] {
            guard let refusal = InputFile.refusal(candidate) else { return candidate }
            if refusal.missing { continue }
            throw DatasetError.datasetUnreadable(path: candidate, reason: refusal.reason)
        }
        throw DatasetError.datasetMissing(path: "\(directory)/\(base).gz", package: debianPackage)
    }
}

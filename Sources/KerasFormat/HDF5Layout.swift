import Foundation

/// Paths, names and versions of the layout in `Schemas/hdf5-layout.md`.
enum HDF5Layout {
    /// The version of the `/cnnkit` group this module writes and reads (`/cnnkit@format_version`).
    static let formatVersion: Int64 = 1
    /// The Keras model name: weight paths are `<layer>/sequential/<layer>/<param>`.
    static let modelName = "sequential"

    static let modelWeights = "model_weights"
    static let optimizerWeights = "optimizer_weights"
    static let cnnkit = "cnnkit"
    static let training = "training"
    static let history = "history"
    static let probes = "probes"
    static let metadata = "metadata"

    /// The weight path of a parameter inside its layer group, as Keras names it (`sequential/conv2d/kernel`).
    static func weightPath(layer: String, param: String) -> String { "\(modelName)/\(layer)/\(param)" }
}

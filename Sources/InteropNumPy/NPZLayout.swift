import ConvNet
import Foundation

/// Names and the metadata member of CNNKit's own npz layout (`Schemas/npz-mapping.md` section 2).
public enum NPZLayout {
    /// The member holding CNNKit's metadata: a 0-d unicode array (`<U<n>`) whose text is ``Metadata`` as JSON.
    /// `numpy.load(f)["__cnnkit__"]` gives it back; `json.loads(str(...))` reads it.
    public static let metadataKey = "__cnnkit__"
    /// The key of the probe inputs `[n, h, w, c]` (stored `|u1` when every value is a whole number 0-255,
    /// else `<f4`).
    public static let probeInputs = "probes.inputs"
    /// The key of the probe outputs `[n, k]`.
    public static let probeOutputs = "probes.outputs"
    /// The mapping version this module writes and reads.
    public static let formatVersion = 1

    /// The zip member name of a key (`conv2d.kernel` -> `conv2d.kernel.npy`), as `numpy.savez` names it.
    public static func member(_ key: String) -> String { key + ".npy" }

    /// The JSON document in ``metadataKey``.
    struct Metadata: Codable {
        var formatVersion: Int
        var architecture: Architecture
        var trainingState: TrainingState?
        var probesSource: String?
        var metadata: [String: String]

        enum CodingKeys: String, CodingKey {
            case formatVersion = "format_version", architecture, trainingState = "training_state"
            case probesSource = "probes_source", metadata
        }
    }
}

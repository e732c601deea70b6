import Foundation

/// Names of the CNNKit parts of a safetensors file (`Schemas/safetensors-mapping.md` section 2).
public enum SafetensorsLayout {
    /// `__metadata__` key: the version of this mapping, `"1"`.
    public static let formatVersionKey = "cnnkit.format_version"
    /// `__metadata__` key: the architecture JSON (`Schemas/architecture.schema.json`).
    public static let architectureKey = "cnnkit.architecture"
    /// `__metadata__` key: the training state's scalars as JSON (slots travel as tensors).
    public static let trainingStateKey = "cnnkit.training_state"
    /// `__metadata__` key: where the probe inputs came from.
    public static let probesSourceKey = "cnnkit.probes.source"
    /// Tensor holding the probe inputs `[n, h, w, c]` (raw pixels).
    public static let probeInputs = "probes.inputs"
    /// Tensor holding the probe outputs `[n, k]`.
    public static let probeOutputs = "probes.outputs"
    /// The mapping version this module writes and reads.
    public static let formatVersion = "1"

    /// `__metadata__` keys that CNNKit owns; document metadata may not use them.
    public static let reservedKeys: Set<String> = [formatVersionKey, architectureKey, trainingStateKey, probesSourceKey]
}

import Foundation
import ModelArchive

/// Member names, fixed values and limits of the `.keras` zip (`Schemas/keras-mapping.md` §1).
enum KerasArchiveLayout {
    static let metadata = "metadata.json"
    static let config = "config.json"
    static let weights = "model.weights.h5"
    /// Keras' other weights format, which CNNKit does not read.
    static let npzWeights = "model.weights.npz"

    /// `metadata.json` `date_saved`: a fixed date, so that the same document gives the same bytes (Keras only
    /// writes this field; `load_model` does not read `metadata.json`).
    static let dateSaved = "1980-01-01@00:00:00"
    /// Every member's modification time: 1980-01-01 00:00:00, the first DOS date (what Keras gives its JSON
    /// members).
    static let memberDate = Date(timeIntervalSince1970: 315_532_800)
    /// Every member's permissions, as Python's `zipfile` gives members Keras writes with `ZipFile.open("w")`.
    static let memberPermissions: UInt16 = 0o600

    /// The largest `config.json` and `metadata.json` read.
    static let maximumJSONBytes: UInt64 = 64 << 20
    /// The most members an archive may list (a `.keras` holds three).
    static let maximumMembers = 10_000
    /// The largest ratio of uncompressed to compressed size accepted for a deflated member.
    static let maximumCompressionRatio: UInt64 = SafetyLimits.maxDeflateRatio

    /// `metadata.json`, as Keras writes it (`json.dumps` of `keras_version` and `date_saved`).
    static var metadataJSON: String {
        "{\"keras_version\": \"\(KerasRelease.version)\", \"date_saved\": \"\(dateSaved)\"}"
    }
}

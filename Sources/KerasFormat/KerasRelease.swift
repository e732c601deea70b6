/// The Keras release whose files this module imitates, defined once for every file that records it.
///
/// The legacy `.h5` writer and the `.keras` writer both record the version; they agree, as the files of one Keras
/// release do. The layouts of both are specified for this release.
enum KerasRelease {
    /// `keras_version`: the root and `/model_weights` attributes of a legacy `.h5` file (`Schemas/hdf5-layout.md`)
    /// and the field of a `.keras` archive's `metadata.json` (`Schemas/keras-mapping.md` §1).
    static let version = "3.15.1"
    /// `backend`: the backend a legacy `.h5` file records beside the version.
    static let backend = "jax"
}

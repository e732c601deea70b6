import CHDF5

/// An open HDF5 identifier and its one owner: the handle closes it exactly once, with the close call of its kind.
///
/// Every identifier this module opens (a file, group, dataset, attribute, dataspace, datatype, property list, or an
/// object opened with `H5Oopen`) is wrapped in a handle by ``HDF5Checker/open(_:_:_:_:in:)`` as soon as the call
/// that opened it succeeds; no other code closes identifiers. The identifier is closed by ``close()`` or, at the
/// latest, when the last reference to the handle goes away.
///
/// A handle opened in a file (through the file's handle or any handle opened in it) keeps the file's handle alive,
/// so a file is closed only after every object opened in it.
///
/// Closing takes the library lock (``HDF5Library/serialized(_:)``), which is recursive: a handle may be released on
/// a thread that holds the lock (inside a serialized body, while an error unwinds) or on one that does not.
package final class HDF5Handle: @unchecked Sendable {
    /// What an identifier is, which decides how it is closed.
    package enum Kind: Sendable {
        /// Closed with `H5Fclose`.
        case file
        /// Closed with `H5Gclose`.
        case group
        /// Closed with `H5Dclose`.
        case dataset
        /// Closed with `H5Aclose`.
        case attribute
        /// Closed with `H5Sclose`.
        case dataspace
        /// Closed with `H5Tclose`.
        case datatype
        /// Closed with `H5Pclose`.
        case propertyList
        /// A group or dataset opened with `H5Oopen`; closed with `H5Oclose`.
        case object
    }

    /// The identifier. Pass it only to calls made while this handle is in use; it is invalid once closed.
    package let id: hid_t
    package let kind: Kind
    /// The file this identifier lives in, kept open until this one is closed (nil for a file, and for dataspaces
    /// and property lists made on their own).
    private let file: HDF5Handle?
    /// Whether ``id`` is still open; read and written only under the library lock.
    private var isOpen = true

    /// Takes ownership of an identifier that a call has just returned.
    ///
    /// - Parameters:
    ///   - id: a valid identifier (non-negative); ``HDF5Checker/open(_:_:_:_:in:)`` checks it first.
    ///   - kind: what it is, which decides how it is closed.
    ///   - container: the handle it was opened from or in (the file, a group, a dataset, an attribute); its file
    ///     stays open while this handle is open.
    package init(_ id: hid_t, kind: Kind, in container: HDF5Handle? = nil) {
        self.id = id
        self.kind = kind
        file = container.flatMap { $0.kind == .file ? $0 : $0.file }
    }

    deinit {
        close()
    }

    /// Closes the identifier now, if it is still open; later calls (and the release of the handle) do nothing.
    ///
    /// A failed close is not reported: libhdf5 has then already released what it could, and nothing is left for the
    /// caller to do (written files are flushed, with the flush checked, before their handles go).
    package func close() {
        HDF5Library.serialized {
            guard isOpen else { return }
            isOpen = false
            switch kind {
            case .file: _ = H5Fclose(id)
            case .group: _ = H5Gclose(id)
            case .dataset: _ = H5Dclose(id)
            case .attribute: _ = H5Aclose(id)
            case .dataspace: _ = H5Sclose(id)
            case .datatype: _ = H5Tclose(id)
            case .propertyList: _ = H5Pclose(id)
            case .object: _ = H5Oclose(id)
            }
        }
    }
}

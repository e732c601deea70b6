import CHDF5

/// The one checker every HDF5 call goes through: it knows the file, whether it is being written, and turns a
/// negative return into ``HDF5Error/callFailed(file:location:call:stack:writing:)`` naming the C function, the
/// HDF5 path and HDF5's folded error stack.
///
/// Each method takes the call itself (an autoclosure) and runs it through ``HDF5Library/timed(_:_:_:_:)``, so
/// that the watchdog knows which call on which file and path is running.
package struct HDF5Checker: Sendable {
    /// The file being read or written, as the user named it.
    package let file: String
    /// Whether the file is being written; failed calls then read as write failures.
    package let writing: Bool

    /// Creates the checker for one file.
    ///
    /// - Parameters:
    ///   - file: the file as messages call it.
    ///   - writing: true while writing it.
    package init(file: String, writing: Bool) {
        self.file = file
        self.writing = writing
    }

    /// Checks an identifier-returning call (`H5Fopen`, `H5Gopen2`, `H5Dget_type`, ...) and hands the identifier to
    /// a new ``HDF5Handle`` that closes it.
    ///
    /// - Parameters:
    ///   - kind: what the call returns, which decides how the handle closes it.
    ///   - container: the handle the identifier was opened from or in; see ``HDF5Handle/init(_:kind:in:)``.
    /// - Throws: ``HDF5Error/callFailed(file:location:call:stack:writing:)`` when `result` is negative.
    package func open(_ kind: HDF5Handle.Kind, _ call: String, _ location: String, _ invoke: @autoclosure () -> hid_t,
                      in container: HDF5Handle? = nil) throws -> HDF5Handle {
        let result = timed(call, location, invoke)
        guard result >= 0 else { throw failure(call, location) }
        return HDF5Handle(result, kind: kind, in: container)
    }

    /// Checks a status-returning call (`H5Dread`, `H5Pset_deflate`, ...).
    package func status(_ call: String, _ location: String, _ invoke: @autoclosure () -> herr_t) throws {
        let result = timed(call, location, invoke)
        guard result >= 0 else { throw failure(call, location) }
    }

    /// Checks a tri-state call (`H5Lexists`, `H5Tis_variable_str`, ...): true, false, or a thrown failure.
    package func bool(_ call: String, _ location: String, _ invoke: @autoclosure () -> htri_t) throws -> Bool {
        let result = timed(call, location, invoke)
        guard result >= 0 else { throw failure(call, location) }
        return result > 0
    }

    /// Checks a call returning a count or size as a signed integer (`H5Sget_simple_extent_ndims`, ...).
    package func count<T: BinaryInteger>(_ call: String, _ location: String, _ invoke: @autoclosure () -> T) throws -> Int {
        let result = timed(call, location, invoke)
        guard result >= 0, let value = Int(exactly: result) else { throw failure(call, location) }
        return value
    }

    /// Checks a call returning an unsigned size where 0 means failure (`H5Tget_size`).
    package func size(_ call: String, _ location: String, _ invoke: @autoclosure () -> Int) throws -> Int {
        let result = timed(call, location, invoke)
        guard result > 0 else { throw failure(call, location) }
        return result
    }

    /// Runs a libhdf5 call that is checked some other way (or not at all), named for the watchdog.
    package func timed<T>(_ call: String, _ location: String, _ invoke: () -> T) -> T {
        HDF5Library.timed(self, call, location, invoke)
    }

    /// The error for a failed call, with the error stack taken (and cleared).
    package func failure(_ call: String, _ location: String) -> HDF5Error {
        .callFailed(file: file, location: location, call: call, stack: HDF5Library.takeErrorStack(), writing: writing)
    }

    /// An ``HDF5Error/invalid(file:location:reason:)`` for this file.
    package func invalid(_ location: String, _ reason: String) -> HDF5Error {
        .invalid(file: file, location: location, reason: reason)
    }

    /// An ``HDF5Error/refused(file:location:reason:)`` for this file.
    package func refused(_ location: String, _ reason: String) -> HDF5Error {
        .refused(file: file, location: location, reason: reason)
    }

    /// An ``HDF5Error/unsupported(file:location:reason:)`` for this file.
    package func unsupported(_ location: String, _ reason: String) -> HDF5Error {
        .unsupported(file: file, location: location, reason: reason)
    }
}

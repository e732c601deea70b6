import CHDF5
import Foundation

/// Serialises every use of libhdf5 in this process and checks every call.
///
/// libhdf5 keeps global state (open identifiers, the error stack); one lock keeps readers and writers on
/// different threads from interleaving. Inside ``serialized(_:)`` the calling thread's automatic error printing
/// is off, so failures reach the caller only as ``HDF5Error`` values.
///
/// Public for the settings a library user may change: the watchdog that bounds the time of every libhdf5 call
/// (``timeLimit``, off unless set) and the checked file driver (``checksGlobalHeaps``).
public enum HDF5Library {
    /// Recursive, so that a writer holding it can fetch tensors from an HDF5 reader on the same thread, and so that
    /// an ``HDF5Handle`` can take it to close its identifier whether or not its thread already holds it.
    private static let lock = NSRecursiveLock()

    /// Keeps libhdf5 from tearing itself down at process exit (`H5dont_atexit`, called before the library
    /// starts). After a failed write (disk full, file size limit) libhdf5 1.10 keeps the half-written file
    /// open, and its exit handler then crashes closing it; every file we open is closed by our own code.
    private static let exitHandlerDisabled: Bool = { H5dont_atexit() >= 0 }()

    /// Runs `body` holding the library lock, with HDF5's automatic error printing off for this thread. The
    /// watchdog (``timeLimit``) sees the section from its start to its end.
    package static func serialized<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        HDF5Watchdog.shared.enterSection()
        defer { HDF5Watchdog.shared.leaveSection() }
        _ = exitHandlerDisabled
        cnnkit_h5_silence()
        return try body()
    }

    /// Whether files are read through CNNKit's checked driver (`CNNKitHDF5Driver`), which refuses damaged global
    /// heap collections that libhdf5 1.10 would loop on forever (the default, true), rather than libhdf5's own
    /// `sec2` driver. For diagnosis: with false, such a file makes libhdf5 loop until the watchdog stops it.
    public static var checksGlobalHeaps: Bool {
        get { serialized { checkedDriver } }
        set { serialized { checkedDriver = newValue } }
    }

    /// Read and written under the library lock only.
    nonisolated(unsafe) private static var checkedDriver = true

    /// The calling thread's HDF5 error stack as one line (innermost first); clears the stack.
    package static func takeErrorStack() -> String {
        var buffer = [CChar](repeating: 0, count: 1024)
        buffer.withUnsafeMutableBufferPointer { cnnkit_h5_error_text($0.baseAddress, $0.count) }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // Some HDF5 messages embed newlines (the sec2 driver's "time = ...\n"); errors are one line.
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}

/// `H5P_DEFAULT` as an identifier.
package let h5Default: hid_t = cnnkit_H5P_DEFAULT()

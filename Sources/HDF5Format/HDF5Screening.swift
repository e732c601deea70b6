import Foundation

/// Screening: a damaged HDF5 file can crash libhdf5 itself (a segmentation fault in `H5HG_read` on a global heap
/// object index out of range, with libhdf5 1.10.8), and no check in the calling process survives that. A tool
/// that reads untrusted files sets ``HDF5Library/screen`` to read each file first where a crash costs nothing:
/// in a child process, with a time and memory limit, through ``HDF5Library/readEverything(path:name:failed:)``. The
/// `cnnkit` tool does (`Documentation/cli.md`, "Robustness").
extension HDF5Library {
    /// Called with every HDF5 file right before it is opened for reading (`path`, and `name` as messages call
    /// it), outside the library lock; what it throws is thrown by the open. Nil (the default) screens nothing.
    /// A screen must not read the file with libhdf5 in this process.
    public static var screen: (@Sendable (_ path: String, _ name: String) throws -> Void)? {
        get { screenLock.withLock { screenHook } }
        set { screenLock.withLock { screenHook = newValue } }
    }

    private static let screenLock = NSLock()
    nonisolated(unsafe) private static var screenHook: (@Sendable (String, String) throws -> Void)?

    /// The screening read: opens `path` as every reader does (CNNKit's checked driver, hard links only), walks
    /// every object (``HDF5Source/visitEveryObject()``) and reads every attribute and every dataset's data in
    /// libhdf5's native types (``HDF5Source/readEverything(failed:)``). A reader reads a subset of these values
    /// through the same libhdf5 code, so a file this survives does not crash libhdf5 in a reader. A failure
    /// does not stop the read: the rest of the file is read on, since a reader may reach it another way.
    ///
    /// - Parameter failed: called with each failure: an ``HDF5Error`` for what libhdf5 or CNNKit's checks refuse
    ///   (a reader would refuse it too, or never read that part).
    /// - Returns: how many objects were visited and how many attributes and datasets were read whole.
    @discardableResult
    public static func readEverything(path: String, name: String, failed: (Error) -> Void) -> (objects: Int, attributes: Int, datasets: Int) {
        let source: HDF5Source
        do {
            source = try HDF5Source.open(path: path, name: name, screened: true)
        } catch {
            failed(error)
            return (0, 0, 0)
        }
        var objects = 0
        do { objects = try source.visitEveryObject() } catch { failed(error) }
        let (attributes, datasets) = source.readEverything(failed: failed)
        return (objects, attributes, datasets)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Atomic replacement of a file: the content goes to a temporary file in the same folder, is flushed with
/// `fsync`, then renamed over the destination, and the folder is synced. On any failure the temporary file is
/// removed and an existing destination is untouched.
public enum AtomicFile {
    /// Writes a file through `body`, which receives the temporary path to write (by any means, including a C
    /// library that opens the path itself).
    ///
    /// - Throws: ``ArchiveError/cannotCreate(path:reason:)`` when the folder is not writable,
    ///   ``ArchiveError/writeFailed(path:reason:)`` when flushing or renaming fails, or whatever `body` throws.
    public static func write(to path: String, _ body: (String) throws -> Void) throws {
        let folder = directory(of: path)
        var template = Array("\(folder)/.\(basename(of: path)).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw ArchiveError.cannotCreate(path: path, reason: errnoText()) }
        let temp = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        close(fd)
        var committed = false
        defer { if !committed { unlink(temp) } }
        try body(temp)
        let syncFD = open(temp, O_RDWR)
        guard syncFD >= 0 else { throw ArchiveError.writeFailed(path: path, reason: errnoText()) }
        let synced = fsync(syncFD)
        close(syncFD)
        guard synced == 0 else { throw ArchiveError.writeFailed(path: path, reason: "fsync: \(errnoText())") }
        // mkstemp creates 0600; give the file the usual permissions.
        chmod(temp, 0o644)
        guard rename(temp, path) == 0 else { throw ArchiveError.writeFailed(path: path, reason: "rename: \(errnoText())") }
        committed = true
        let dirFD = open(folder, O_RDONLY)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
    }

    /// Writes bytes atomically.
    public static func write(bytes: [UInt8], to path: String) throws {
        try write(to: path) { temp in
            let fd = open(temp, O_WRONLY | O_TRUNC)
            guard fd >= 0 else { throw ArchiveError.cannotCreate(path: path, reason: errnoText()) }
            defer { close(fd) }
            do {
                try bytes.withUnsafeBytes { raw in try FileIO.writeAll(fd, raw) }
            } catch let error as SystemCallError {
                throw ArchiveError.writeFailed(path: path, reason: String(cString: strerror(error.code)))
            }
        }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    static func basename(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}

/// The text of the current `errno`.
public func errnoText() -> String {
    String(cString: strerror(errno))
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one check on every file CNNKit reads (models, images, architectures, data sets), made before anything
/// opens it in a way that could block.
///
/// Only regular files are read, following symbolic links. A FIFO, a character or block device, or a socket is
/// refused (reading it could block forever or never end), as is a folder; a symbolic link loop says so rather
/// than "no such file". All of these are "the input cannot be opened" (exit 66), with a message naming the file
/// and what it is. The check uses `stat` only; ``open(_:)`` then opens with `O_NONBLOCK` and checks again with
/// `fstat`, so a file swapped for a FIFO in between is refused too rather than blocking.
public enum InputFile {
    /// Why a path cannot be read as an input file.
    public struct Refusal: Sendable, Equatable, CustomStringConvertible {
        /// "no such file", "is a FIFO (named pipe), not a regular file", "symbolic link loop (...)", ...
        public var reason: String
        /// True when nothing is there (or a dangling symbolic link).
        public var missing: Bool

        public var description: String { reason }
    }

    /// Why `path` cannot be read as an input file, or nil when it is a regular file (after symbolic links).
    /// Opens nothing.
    public static func refusal(_ path: String) -> Refusal? {
        var info = stat()
        if stat(path, &info) != 0 {
            let code = errno
            switch code {
            case ENOENT:
                var link = stat()
                let dangling = lstat(path, &link) == 0 && (link.st_mode & S_IFMT) == S_IFLNK
                return Refusal(reason: dangling ? "no such file (dangling symbolic link)" : "no such file", missing: true)
            case ELOOP:
                return Refusal(reason: "symbolic link loop (too many levels of symbolic links)", missing: false)
            case EACCES:
                return Refusal(reason: "permission denied", missing: false)
            case ENOTDIR:
                return Refusal(reason: "no such file (a part of the path is not a folder)", missing: true)
            default:
                return Refusal(reason: String(cString: strerror(code)), missing: false)
            }
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return Refusal(reason: "is a folder", missing: false)
        default: return Refusal(reason: "is \(FileKind.describe(info.st_mode)), not a regular file", missing: false)
        }
    }

    /// ``refusal(_:)`` as an error.
    ///
    /// - Throws: ``ArchiveError/missingFile(path:reason:)`` (exit 66) naming the file and what it is.
    public static func check(_ path: String) throws(ArchiveError) {
        if let refusal = refusal(path) { throw ArchiveError.missingFile(path: path, reason: refusal.reason) }
    }

    /// Opens a regular file for reading without ever blocking: ``check(_:)``, then `open` with `O_NONBLOCK`
    /// and `fstat` (refusing anything that is not a regular file by then).
    ///
    /// - Returns: the descriptor (the caller closes it) and the file's size.
    /// - Throws: ``ArchiveError/missingFile(path:reason:)`` naming the file.
    public static func open(_ path: String) throws(ArchiveError) -> (fd: Int32, size: UInt64) {
        try check(path)
        do {
            return try FileIO.openRegularFile(path)
        } catch {
            if error.code == 0 { throw ArchiveError.missingFile(path: path, reason: error.call) }
            if error.code == ELOOP { throw ArchiveError.missingFile(path: path, reason: "symbolic link loop (too many levels of symbolic links)") }
            if error.code == ENOENT { throw ArchiveError.missingFile(path: path, reason: "no such file") }
            if error.code == EACCES { throw ArchiveError.missingFile(path: path, reason: "permission denied") }
            throw ArchiveError.missingFile(path: path, reason: String(cString: strerror(error.code)))
        }
    }

    /// Reads up to `limit` bytes from the start of a regular file (the whole file by default), after the checks
    /// of ``open(_:)``.
    ///
    /// - Throws: ``ArchiveError/missingFile(path:reason:)`` when it cannot be opened, ``ArchiveError/invalid(path:location:reason:)``
    ///   when it is larger than `limit` and `whole` is true, or a read error as `missingFile`.
    public static func read(_ path: String, limit: Int = Int.max, whole: Bool = true) throws(ArchiveError) -> [UInt8] {
        let (fd, size) = try open(path)
        defer { close(fd) }
        if whole, size > UInt64(limit) {
            throw ArchiveError.invalid(path: path, location: nil, reason: "\(size) bytes is more than the \(limit) bytes read")
        }
        let count = Int(min(size, UInt64(limit)))
        var bytes = [UInt8](repeating: 0, count: count)
        do {
            let n = try bytes.withUnsafeMutableBytes { raw throws(SystemCallError) in try FileIO.read(fd, into: raw, at: 0) }
            bytes.removeSubrange(n...)
        } catch {
            throw ArchiveError.missingFile(path: path, reason: "read failed: \(error)")
        }
        return bytes
    }
}

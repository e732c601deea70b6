#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Atomic replacement of a file: the one way CNNKit writes an output. Every writer goes through it.
///
/// The rules (`Documentation/cli.md`, "Writing files"):
///
/// - **Only regular files are replaced.** A FIFO, device, socket or folder at the destination is refused with
///   ``ArchiveError/cannotCreate(path:reason:)`` (exit 73) naming what it is, before anything is written
///   (``checkDestination(_:)``; tools call it before they start the work).
/// - **Symbolic links are written through.** A symbolic link at the destination stays a link and its final
///   target gets the new content (relative links resolve against the link's folder; a dangling link creates its
///   target).
/// - **Permissions and owner are kept.** An existing file's mode (and, when permitted, owner and group) carry
///   over to the new file; a new file gets mode 0644 (as CNNKit always gave, whatever the umask).
/// - **Nothing is left behind.** On Linux the content goes to an unnamed file in the destination's folder
///   (`O_TMPFILE`), which is given a name only once it is complete and synced (`linkat` through
///   `/proc/self/fd/N`, then `rename` over the destination), so `kill -9` at any moment leaves no file. Where
///   that is not available (another OS or filesystem), or the writer hands the path to libhdf5
///   (``TemporaryFile/Naming/named``), the temporary file is `.NAME.cnnkit-tmp-PID-XXXXXX` beside the
///   destination: removed on any error, and, if the process was killed, by the next write to the same
///   destination (``TemporaryFile/removeStale(in:base:)``, which every write runs first).
/// - **Durable.** The file is flushed with `fsync` before it gets its name, and the folder after.
/// - On any failure the destination is untouched.
public enum AtomicFile {
    /// Writes a file through `body`, which receives the path of the temporary file to write (by any means,
    /// including a C library that opens the path itself).
    ///
    /// - Parameters:
    ///   - path: the destination.
    ///   - naming: ``TemporaryFile/Naming/unnamedIfPossible`` (the default) gives `body` `/proc/self/fd/N` of an
    ///     unnamed file on Linux: `open(2)` and `fopen(3)` reopen it, but a `body` must not derive other paths
    ///     from it or unlink it. ``TemporaryFile/Naming/named`` gives a real name beside the destination, for
    ///     libraries that resolve the path (libhdf5's `H5Fcreate` calls `realpath`, which fails on
    ///     `/proc/self/fd/N` of an unnamed file).
    ///   - body: writes the content; the file exists and is empty when it is called.
    /// - Throws: ``ArchiveError/cannotCreate(path:reason:)`` when the destination is not a regular file or its
    ///   folder cannot take a file, ``ArchiveError/writeFailed(path:reason:)`` when flushing or renaming fails,
    ///   or whatever `body` throws.
    public static func write(to path: String, naming: TemporaryFile.Naming = .unnamedIfPossible, _ body: (String) throws -> Void) throws {
        let destination = try checkDestination(path)
        let folder = directory(of: destination.target)
        let base = basename(of: destination.target)
        // Files a killed writer left (named temporaries, or the instant between linkat and rename).
        TemporaryFile.removeStale(in: folder, base: base)
        let temp: TemporaryFile
        do {
            temp = try TemporaryFile(in: folder, base: base, naming: naming, mode: 0o600)
        } catch let ArchiveError.cannotCreate(_, reason) {
            throw ArchiveError.cannotCreate(path: path, reason: reason)
        }
        defer { temp.remove() }
        try body(temp.path)
        // The destination may have changed while the body ran: take what is there now.
        let now = try checkDestination(path)
        guard directory(of: now.target) == folder else {
            throw ArchiveError.writeFailed(path: path, reason: "the symbolic link changed to \(now.target) while writing")
        }
        try publish(temp, as: now, reportedAs: path)
    }

    /// Writes bytes atomically, under the rules of ``write(to:naming:_:)``.
    public static func write(bytes: [UInt8], to path: String) throws {
        try write(to: path) { temp in try fill(temp, with: bytes, for: path) }
    }

    /// Replaces the content of the temporary file `temp` (as a ``write(to:naming:_:)`` body receives it) with
    /// `bytes`.
    ///
    /// - Throws: ``ArchiveError/cannotCreate(path:reason:)`` or ``ArchiveError/writeFailed(path:reason:)``
    ///   naming `path`, the destination.
    public static func fill(_ temp: String, with bytes: [UInt8], for path: String) throws {
        let fd = open(temp, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveError.cannotCreate(path: path, reason: errnoText()) }
        defer { close(fd) }
        do {
            try bytes.withUnsafeBytes { raw in try FileIO.writeAll(fd, raw) }
        } catch let error as SystemCallError {
            throw ArchiveError.writeFailed(path: path, reason: String(cString: strerror(error.code)))
        }
    }

    /// A ``TemporaryFile`` beside the destination `path` (after its symbolic links), named like the temporary
    /// files of ``write(to:naming:_:)`` so that the next write to `path` removes it if this process is killed:
    /// for a part written before the output it goes into (the `model.weights.h5` of a `.keras`, written by
    /// libhdf5, then copied into the zip).
    ///
    /// - Throws: ``ArchiveError/cannotCreate(path:reason:)``.
    public static func scratchFile(beside path: String, naming: TemporaryFile.Naming = .unnamedIfPossible) throws -> TemporaryFile {
        let target = try checkDestination(path).target
        do {
            return try TemporaryFile(in: directory(of: target), base: basename(of: target), naming: naming)
        } catch let ArchiveError.cannotCreate(_, reason) {
            throw ArchiveError.cannotCreate(path: path, reason: reason)
        }
    }

    /// Where a write to `path` lands and what it replaces.
    public struct Destination: Sendable, Equatable {
        /// The file that gets the content: `path`, or the final target of the symbolic links at `path`.
        public var target: String
        /// The existing file's mode, owner and group; nil when there is none yet.
        public var existing: Existing?

        /// The file already at the destination.
        public struct Existing: Sendable, Equatable {
            /// Its permission bits, kept by the replacement.
            public var mode: mode_t
            /// Its owner.
            public var owner: uid_t
            /// Its group.
            public var group: gid_t
        }
    }

    /// The mode of a new file.
    public static let newFileMode: mode_t = 0o644

    /// Checks that `path` can be written: follows symbolic links to their final target, and refuses anything but
    /// a regular file there (FIFO, character or block device, socket, folder) or a folder that does not exist.
    /// Opens nothing, so it never blocks.
    ///
    /// - Returns: the target and what is there now.
    /// - Throws: ``ArchiveError/cannotCreate(path:reason:)`` naming `path` and what it is.
    @discardableResult
    public static func checkDestination(_ path: String) throws -> Destination {
        var target = path
        var hops = 0
        var info = stat()
        while true {
            if lstat(target, &info) != 0 {
                let code = errno
                guard code == ENOENT else { throw ArchiveError.cannotCreate(path: path, reason: via(path, target) + String(cString: strerror(code))) }
                // Nothing there yet: its folder must exist and be a folder.
                let folder = directory(of: target)
                var folderInfo = stat()
                guard stat(folder, &folderInfo) == 0 else {
                    throw ArchiveError.cannotCreate(path: path, reason: via(path, target) + "folder \(folder): \(errnoText())")
                }
                guard (folderInfo.st_mode & S_IFMT) == S_IFDIR else {
                    throw ArchiveError.cannotCreate(path: path, reason: via(path, target) + "\(folder) is not a folder")
                }
                return Destination(target: target, existing: nil)
            }
            guard (info.st_mode & S_IFMT) == S_IFLNK else { break }
            hops += 1
            guard hops <= 40 else { throw ArchiveError.cannotCreate(path: path, reason: "symbolic link loop (too many levels of symbolic links)") }
            guard let link = readLink(target) else {
                throw ArchiveError.cannotCreate(path: path, reason: "cannot read the symbolic link \(target): \(errnoText())")
            }
            target = link.hasPrefix("/") ? link : directory(of: target) + "/" + link
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ArchiveError.cannotCreate(path: path, reason: via(path, target) + "is \(FileKind.describe(info.st_mode)), not a regular file; CNNKit replaces only regular files")
        }
        return Destination(target: target, existing: .init(mode: info.st_mode & 0o7777, owner: info.st_uid, group: info.st_gid))
    }

    /// "symbolic link to TARGET: " when the write goes through links, else "".
    private static func via(_ path: String, _ target: String) -> String {
        target == path ? "" : "symbolic link to \(target): "
    }

    private static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Gives the complete temporary file the destination's mode and owner, syncs it, names it (replacing the
    /// target) and syncs the folder.
    private static func publish(_ temp: TemporaryFile, as destination: Destination, reportedAs path: String) throws {
        let fd = temp.descriptor
        let current = destination.existing
        if let current {
            var own = stat()
            if fstat(fd, &own) == 0, own.st_uid != current.owner || own.st_gid != current.group {
                _ = fchown(fd, current.owner, current.group) // kept when permitted (root, or a group of ours)
            }
        }
        guard fchmod(fd, current?.mode ?? newFileMode) == 0 else { throw ArchiveError.writeFailed(path: path, reason: "fchmod: \(errnoText())") }
        guard fsync(fd) == 0 else { throw ArchiveError.writeFailed(path: path, reason: "fsync: \(errnoText())") }
        let target = destination.target, folder = directory(of: target)
        if let name = temp.name {
            guard rename(name, target) == 0 else { throw ArchiveError.writeFailed(path: path, reason: "rename: \(errnoText())") }
            temp.relinquish()
        } else {
            try link(temp, to: target, reportedAs: path)
        }
        let dirFD = open(folder, O_RDONLY | O_CLOEXEC)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
    }

    /// Names an unnamed file: `linkat` straight to the target when there is none (atomic), else to a fresh
    /// `.NAME.cnnkit-tmp-PID-XXXXXX` then `rename` over the target.
    private static func link(_ temp: TemporaryFile, to target: String, reportedAs path: String) throws {
        #if os(Linux)
        if linkat(AT_FDCWD, temp.path, AT_FDCWD, target, AT_SYMLINK_FOLLOW) == 0 { return }
        guard errno == EEXIST else { throw ArchiveError.writeFailed(path: path, reason: "linkat: \(errnoText())") }
        let folder = directory(of: target), prefix = TemporaryFile.prefix(base: basename(of: target))
        for _ in 0..<100 {
            let name = "\(folder)/\(prefix)\(getpid())-\(randomSuffix())"
            guard linkat(AT_FDCWD, temp.path, AT_FDCWD, name, AT_SYMLINK_FOLLOW) == 0 else {
                if errno == EEXIST { continue }
                throw ArchiveError.writeFailed(path: path, reason: "linkat: \(errnoText())")
            }
            guard rename(name, target) == 0 else {
                let reason = errnoText()
                unlink(name)
                throw ArchiveError.writeFailed(path: path, reason: "rename: \(reason)")
            }
            return
        }
        throw ArchiveError.writeFailed(path: path, reason: "linkat: no free temporary name")
        #else
        throw ArchiveError.writeFailed(path: path, reason: "unnamed temporary files are not supported here")
        #endif
    }

    private static func randomSuffix() -> String {
        let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<6).map { _ in letters[Int(generator.next() % UInt64(letters.count))] })
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

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A temporary file that removes itself: the one way CNNKit makes a scratch or staging file.
///
/// On Linux it is, when the filesystem allows, an **unnamed** file (`open(folder, O_TMPFILE)`) reached through
/// ``path`` = `/proc/self/fd/N`: it has no name in any folder, so nothing is left behind whatever happens to the
/// process, `kill -9` included. Anything that opens a path with `open(2)` or `fopen(3)` can use that path;
/// libhdf5 cannot (it calls `realpath` on a path that is a symbolic link, which fails for `/proc/self/fd/N` of an
/// unnamed file), so callers handing the path to libhdf5 ask for a ``Naming/named`` file.
///
/// A named file is `FOLDER/.BASE.cnnkit-tmp-PID-XXXXXX` (mode 0600), unlinked by ``remove()`` or `deinit`. A
/// process killed with `kill -9` cannot remove it, so creating a named file first removes the files of that
/// pattern (same folder and `BASE`) whose process `PID` no longer exists (``removeStale(in:base:)``).
public final class TemporaryFile {
    /// What kind of temporary file to make.
    public enum Naming: Sendable, Equatable {
        /// Unnamed where the OS and filesystem support it (Linux `O_TMPFILE`), else named.
        case unnamedIfPossible
        /// Always a name in the folder (for libraries that resolve the path themselves, as libhdf5 does).
        case named
    }

    /// The path to open the file by: `/proc/self/fd/N` for an unnamed file, else its name.
    public let path: String
    /// A descriptor open for reading and writing, owned by this object.
    public let descriptor: Int32
    /// The name in the folder; nil for an unnamed file.
    public let name: String?
    private var removed = false

    /// The folder for scratch files that are not outputs: `TMPDIR`, else `/tmp`.
    public static var systemFolder: String {
        if let dir = getenv("TMPDIR").map({ String(cString: $0) }), !dir.isEmpty {
            return dir.count > 1 && dir.hasSuffix("/") ? String(dir.dropLast()) : dir
        }
        return "/tmp"
    }

    /// Creates a temporary file.
    ///
    /// - Parameters:
    ///   - folder: where it lives (its filesystem holds the data).
    ///   - base: names a named file `.BASE.cnnkit-tmp-PID-XXXXXX`; its stale files are removed first.
    ///   - naming: unnamed where possible, or always named.
    ///   - mode: permissions of an unnamed file (a named one is created 0600 by `mkstemp`).
    /// - Throws: ``ArchiveError/cannotCreate(path:reason:)`` naming the folder (reason `folder FOLDER: ERROR`).
    public init(in folder: String, base: String, naming: Naming = .unnamedIfPossible, mode: mode_t = 0o600) throws {
        #if os(Linux)
        if naming == .unnamedIfPossible {
            let fd = open(folder, Self.oTmpFile | O_RDWR | O_CLOEXEC, mode)
            if fd >= 0 {
                let procPath = "/proc/self/fd/\(fd)"
                // Publishing and reopening go through /proc: without it (not mounted), use a named file.
                var viaProc = stat(), viaFD = stat()
                if stat(procPath, &viaProc) == 0, fstat(fd, &viaFD) == 0, viaProc.st_ino == viaFD.st_ino, viaProc.st_dev == viaFD.st_dev {
                    path = procPath
                    descriptor = fd
                    name = nil
                    return
                }
                close(fd)
            } else {
                let code = errno
                // Unsupported by the kernel or the filesystem: fall back to a named file; anything else is real.
                guard code == EOPNOTSUPP || code == EISDIR || code == EINVAL else {
                    throw ArchiveError.cannotCreate(path: folder, reason: "folder \(folder): \(String(cString: strerror(code)))")
                }
            }
        }
        #endif
        Self.removeStale(in: folder, base: base)
        var template = Array("\(folder)/\(Self.prefix(base: base))\(getpid())-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.map { mkstemp($0) } ?? -1 }
        guard fd >= 0 else { throw ArchiveError.cannotCreate(path: folder, reason: "folder \(folder): \(errnoText())") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let created = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        path = created
        descriptor = fd
        name = created
    }

    deinit { remove() }

    /// Closes the descriptor and unlinks the name, if any: the file is gone. Safe to call twice.
    public func remove() {
        guard !removed else { return }
        removed = true
        close(descriptor)
        if let name { unlink(name) }
    }

    /// Closes the descriptor without unlinking: for a named file that was renamed to its final place.
    func relinquish() {
        guard !removed else { return }
        removed = true
        close(descriptor)
    }

    /// `.BASE.cnnkit-tmp-`: the start of every named temporary file for `BASE`.
    static func prefix(base: String) -> String { ".\(base).cnnkit-tmp-" }

    /// Removes the named temporary files `.BASE.cnnkit-tmp-PID-...` in `folder` whose process `PID` is gone
    /// (`kill(PID, 0)` fails with `ESRCH`): files left by a writer that was killed. Only regular files are
    /// removed; files of live processes (this one included) are kept. Errors are ignored (best effort).
    ///
    /// - Returns: the names removed.
    @discardableResult
    public static func removeStale(in folder: String, base: String) -> [String] {
        let start = prefix(base: base)
        guard let dir = opendir(folder) else { return [] }
        defer { closedir(dir) }
        var removed: [String] = []
        while let entry = readdir(dir) {
            // Through a pointer to the name, up to its NUL: copying `d_name` (a 256-byte tuple) reads past a short
            // entry at the end of readdir's buffer (AddressSanitizer: heap-buffer-overflow, found by ModelFuzz keras).
            let entryName = withUnsafePointer(to: &entry.pointee.d_name) { name in
                name.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: name.pointee)) { String(cString: $0) }
            }
            guard entryName.hasPrefix(start) else { continue }
            let rest = entryName.dropFirst(start.count)
            guard let dash = rest.firstIndex(of: "-"), let pid = pid_t(rest[..<dash]), pid > 0, pid != getpid() else { continue }
            guard kill(pid, 0) != 0, errno == ESRCH else { continue }
            let full = "\(folder)/\(entryName)"
            var info = stat()
            guard lstat(full, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            if unlink(full) == 0 { removed.append(entryName) }
        }
        return removed
    }

    #if os(Linux)
    /// `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`), which Glibc's Swift overlay does not import (it needs
    /// `_GNU_SOURCE`); `__O_TMPFILE` is 020000000 on every Linux architecture Swift supports.
    static let oTmpFile: Int32 = 0o20000000 | O_DIRECTORY
    #endif
}

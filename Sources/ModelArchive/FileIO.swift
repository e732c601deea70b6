#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call: its name and `errno`.
public struct SystemCallError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The system call that failed.
    public var call: String
    /// Its errno (0 when none).
    public var code: Int32

    /// A failed call.
    public init(call: String, code: Int32) {
        self.call = call
        self.code = code
    }

    public var description: String { code == 0 ? call : "\(call): \(String(cString: strerror(code)))" }
}

/// The one place that loops over `write(2)` and `pread(2)`: short counts are continued and `EINTR` retried.
public enum FileIO {
    /// Writes every byte to `fd`.
    ///
    /// - Throws: ``SystemCallError`` from `write`.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(SystemCallError) {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = write(fd, base + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemCallError(call: "write", code: errno)
            }
            done += n
        }
    }

    /// Fills `buffer` from `offset` of `fd`, stopping early only at the end of the file.
    ///
    /// - Returns: the bytes read: `buffer.count`, or fewer when the file ends first.
    /// - Throws: ``SystemCallError`` from `pread`.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(SystemCallError) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var done = 0
        while done < buffer.count {
            let n = pread(fd, base + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemCallError(call: "pread", code: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Opens a file read-only for positional reads and returns its descriptor and size; refuses anything but a
    /// regular file (a FIFO, device or socket would block or never end).
    ///
    /// - Throws: ``SystemCallError`` from `open` or `fstat`; for another kind of file, `code` 0 and `call`
    ///   `"is a folder"` or `"not a regular file"`.
    public static func openRegularFile(_ path: String) throws(SystemCallError) -> (fd: Int32, size: UInt64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw SystemCallError(call: "open", code: errno) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw SystemCallError(call: "fstat", code: code)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw SystemCallError(call: (info.st_mode & S_IFMT) == S_IFDIR ? "is a folder" : "not a regular file", code: 0)
        }
        return (fd, UInt64(max(info.st_size, 0)))
    }
}

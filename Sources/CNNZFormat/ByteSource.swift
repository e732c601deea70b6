#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ModelArchive

/// Where ``CNNZReader`` reads bytes from: a file (with `pread`) or memory.
protocol ByteSource: AnyObject {
    var size: UInt64 { get }
    /// Fills `buffer` from `offset`; the caller has checked that the range lies inside ``size``.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws
}

/// Bytes in memory.
final class MemorySource: ByteSource {
    let bytes: [UInt8]
    var size: UInt64 { UInt64(bytes.count) }

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        guard let start = Int(exactly: offset), buffer.count <= bytes.count - min(start, bytes.count) else {
            throw CNNZError.readFailed(path: "<memory>", reason: "read past the end")
        }
        bytes.withUnsafeBytes { src in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[start..<(start + buffer.count)]))
        }
    }
}

/// An open file read with `pread(2)`; closed when released.
final class FileSource: ByteSource {
    let fd: Int32
    let path: String
    let size: UInt64

    /// Opens `path` read-only and takes its size with `fstat`.
    ///
    /// - Throws: ``CNNZError/missingFile(path:reason:)`` when it cannot be opened or is not a regular file.
    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CNNZError.missingFile(path: path, reason: String(cString: strerror(errno))) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw CNNZError.readFailed(path: path, reason: "fstat: \(reason)")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw CNNZError.missingFile(path: path, reason: "not a regular file")
        }
        self.fd = fd
        self.path = path
        self.size = UInt64(max(info.st_size, 0))
    }

    deinit { close(fd) }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        let done: Int
        do {
            done = try FileIO.read(fd, into: buffer, at: offset)
        } catch {
            throw CNNZError.readFailed(path: path, reason: "pread at byte \(offset): \(String(cString: strerror(error.code)))")
        }
        guard done == buffer.count else {
            throw CNNZError.truncated(CNNZLocation(file: path, offset: offset + UInt64(done)), what: "file (it shrank while being read)",
                                      needed: UInt64(buffer.count - done), available: 0)
        }
    }
}

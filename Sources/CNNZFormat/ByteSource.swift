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
    /// Calls `body` with the `count` bytes at `offset` where they already lie in memory (bytes in memory, a
    /// mapped file), without copying them; returns nil, without calling `body`, when they must be read. The
    /// caller has checked that the range lies inside ``size``.
    func withContiguousBytes<R>(at offset: UInt64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R?
}

extension ByteSource {
    func withContiguousBytes<R>(at offset: UInt64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R? { nil }
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

    func withContiguousBytes<R>(at offset: UInt64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
        guard let start = Int(exactly: offset), count <= bytes.count - min(start, bytes.count) else { return nil }
        return try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<(start + count)])) }
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

/// A file mapped into memory read-only (`mmap`, `PROT_READ`, `MAP_SHARED`), unmapped when the last reference
/// goes: the owner that keeps every ``ConvNet/TensorView`` borrowed from it valid.
///
/// The file's size is taken when it is mapped and every offset is checked against it. If another process
/// truncates the file while it is mapped, touching the lost pages raises `SIGBUS` (the kernel has no bytes
/// to give); no check can prevent that, so the command line installs a handler that names the file and exits
/// with status 65 (`Schemas/cnnz.md` section 10).
final class MappedSource: ByteSource, @unchecked Sendable {
    let path: String
    let size: UInt64
    private let base: UnsafeRawPointer?

    /// Maps `path` whole.
    ///
    /// - Throws: ``CNNZError/missingFile(path:reason:)`` when it cannot be opened or is not a regular file,
    ///   ``CNNZError/readFailed(path:reason:)`` when it cannot be mapped.
    init(path: String) throws {
        let file = try FileSource(path: path)
        self.path = path
        size = file.size
        guard size > 0 else {
            base = nil
            return
        }
        guard let length = Int(exactly: size) else { throw CNNZError.readFailed(path: path, reason: "file too large to map") }
        let mapped = mmap(nil, length, PROT_READ, MAP_SHARED, file.fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw CNNZError.readFailed(path: path, reason: "mmap: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapped)
    }

    deinit {
        if let base, let length = Int(exactly: size) { munmap(UnsafeMutableRawPointer(mutating: base), length) }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        guard buffer.count > 0 else { return }
        guard let base, let start = Int(exactly: offset), UInt64(buffer.count) <= size - min(offset, size) else {
            throw CNNZError.readFailed(path: path, reason: "read past the end of the mapping")
        }
        buffer.baseAddress!.copyMemory(from: base + start, byteCount: buffer.count)
    }

    func withContiguousBytes<R>(at offset: UInt64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
        guard let start = Int(exactly: offset), UInt64(count) <= size - min(offset, size) else { return nil }
        return try body(UnsafeRawBufferPointer(start: base.map { $0 + start }, count: count))
    }
}

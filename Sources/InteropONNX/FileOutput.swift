#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ModelArchive

/// The temporary file of an ``AtomicFile`` write, written in order through a 1 MiB buffer; larger pieces (a
/// tensor's values) go straight from their own memory to the file.
final class FileOutput {
    private let fd: Int32
    /// The destination, as errors name it.
    private let destination: String
    private var buffer: [UInt8] = []
    private static let bufferBytes = 1 << 20

    /// Opens `temp` (as a ``AtomicFile/write(to:naming:_:)`` body receives it) for writing from its start.
    ///
    /// - Throws: ``ArchiveError/cannotCreate(path:reason:)`` naming `destination`.
    init(_ temp: String, for destination: String) throws {
        fd = open(temp, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveError.cannotCreate(path: destination, reason: errnoText()) }
        self.destination = destination
        buffer.reserveCapacity(Self.bufferBytes)
    }

    /// Appends bytes.
    ///
    /// - Throws: ``ArchiveError/writeFailed(path:reason:)``.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count <= Self.bufferBytes {
            buffer += bytes
            return
        }
        try flush()
        if bytes.count <= Self.bufferBytes {
            buffer += bytes
        } else {
            try writeAll(bytes)
        }
    }

    /// Writes what the buffer holds.
    func flush() throws {
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Closes the file (the ``AtomicFile`` write then syncs and names it).
    func closeFile() {
        close(fd)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        do {
            try FileIO.writeAll(fd, bytes)
        } catch {
            throw ArchiveError.writeFailed(path: destination, reason: String(cString: strerror(error.code)))
        }
    }
}

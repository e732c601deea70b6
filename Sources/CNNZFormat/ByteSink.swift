#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ModelArchive

/// Where ``CNNZStreamWriter`` sends bytes: memory or a file descriptor.
protocol ByteSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    func flush() throws
}

/// Collects the bytes in memory (``CNNZModel/encode(_:options:)``).
final class MemorySink: ByteSink {
    private(set) var bytes: [UInt8] = []

    /// A sink that reserves room for `capacity` bytes up front (untouched pages cost nothing; growing by
    /// doubling would copy the file's bytes about twice more).
    init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        bytes.withMemoryRebound(to: UInt8.self) { self.bytes.append(contentsOf: $0) }
    }

    func flush() throws {}
}

/// Writes small pieces through a 1 MiB buffer (pieces of 256 KiB or more directly) to a file descriptor with `write(2)`, retrying on `EINTR` and short writes.
final class FileSink: ByteSink {
    private let fd: Int32
    private let path: String
    private var buffer: [UInt8] = []
    private let capacity = 1 << 20

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
        buffer.reserveCapacity(capacity)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count > capacity { try flush() }
        if bytes.count >= capacity / 4 {
            // Chunks go out with their own write(2), not through the buffer (one copy fewer).
            try flush()
            try writeAll(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Calls `write(2)` until every byte is written.
    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        do {
            try FileIO.writeAll(fd, bytes)
        } catch {
            throw CNNZError.writeFailed(path: path, reason: error.description)
        }
    }
}

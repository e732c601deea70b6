#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ConvNet
import ModelArchive

/// A safetensors file opened for streaming: the header is read and checked with every rule of
/// ``SafetensorsFile/parse(_:name:)`` and mapped onto the architecture when the file is opened, the probes are
/// read then, and each parameter or slot is read with one `pread` when asked. The file stays open until the
/// reader is released.
public final class SafetensorsTensorReader: TensorStreamReader {
    public let file: String
    public let header: ModelHeader
    private let fd: Int32
    private let dataStart: UInt64
    private let entries: [String: SafetensorsHeader.Validated]

    /// Opens and checks a file, reading its header and probe tensors only.
    ///
    /// - Parameter architecture: used when the file carries none.
    /// - Throws: a ``SafetensorsError``, the same one reading the whole file would throw.
    public init(path: String, architecture given: Architecture? = nil) throws {
        let opened: (fd: Int32, size: UInt64)
        do {
            opened = try FileIO.openRegularFile(path)
        } catch {
            throw SafetensorsError.missingFile(path: path, reason: error.code == ENOENT ? "no such file" : error.description)
        }
        fd = opened.fd
        file = path
        do {
            let (fileHeader, validated, dataStart) = try Self.readHeader(fd: opened.fd, size: opened.size, name: path)
            self.dataStart = dataStart
            var entries: [String: SafetensorsHeader.Validated] = [:]
            for entry in validated { entries[entry.name] = entry }
            self.entries = entries
            let mapped = try SafetensorsModel.layout(metadata: fileHeader.metadata, shapes: entries.mapValues(\.shape), name: path, architecture: given)
            let probes = try mapped.layout.probes.map { p in
                Probes(inputs: try Self.read(p.inputs.name, entries: entries, fd: opened.fd, dataStart: dataStart, file: path),
                       outputs: try Self.read(p.outputs.name, entries: entries, fd: opened.fd, dataStart: dataStart, file: path),
                       source: mapped.probesSource ?? "")
            }
            header = ModelHeader(architecture: mapped.architecture, trainingState: mapped.layout.trainingState, probes: probes,
                                 metadata: mapped.metadata, parameters: mapped.layout.parameters, slots: mapped.layout.slots)
        } catch {
            close(opened.fd)
            throw error
        }
    }

    deinit { close(fd) }

    public func readTensor(named name: String) throws -> Tensor {
        try Self.read(name, entries: entries, fd: fd, dataStart: dataStart, file: file)
    }

    private static func read(_ name: String, entries: [String: SafetensorsHeader.Validated], fd: Int32, dataStart: UInt64, file: String) throws -> Tensor {
        guard let entry = entries[name] else { throw SafetensorsError.document(file: file, tensor: name, reason: "missing") }
        let start = dataStart + entry.begin
        var values = [Float](repeating: 0, count: entry.count)
        #if _endian(little)
        if entry.dtype == .f32 {
            // Same layout in the file and in memory: read straight into the values (no second copy).
            try values.withUnsafeMutableBytes { try readExactly(fd: fd, into: $0, at: start, file: file) }
            return Tensor(shape: entry.shape, scalars: values)
        }
        #endif
        // Other dtypes: decode a block at a time.
        let perBlock = max(1, (1 << 20) / entry.dtype.size)
        var done = 0
        while done < entry.count {
            let n = min(perBlock, entry.count - done)
            let bytes = try readBytes(fd: fd, at: start + UInt64(done * entry.dtype.size), count: n * entry.dtype.size, file: file)
            let block = entry.dtype.decode(bytes, offset: 0, count: n)
            values.replaceSubrange(done..<(done + n), with: block)
            done += n
        }
        return Tensor(shape: entry.shape, scalars: values)
    }

    private static func readExactly(fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64, file: String) throws {
        let done: Int
        do {
            done = try FileIO.read(fd, into: buffer, at: offset)
        } catch {
            throw SafetensorsError.missingFile(path: file, reason: error.description)
        }
        guard done == buffer.count else {
            throw SafetensorsError.truncated(file: file, offset: Int(offset) + done, needed: UInt64(buffer.count - done), available: 0)
        }
    }

    private static func readBytes(fd: Int32, at offset: UInt64, count: Int, file: String) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try readExactly(fd: fd, into: $0, at: offset, file: file) }
        return bytes
    }

    /// Reads and checks the header of an open file (``SafetensorsFile/parse(_:name:)``'s rules and errors).
    static func readHeader(fd: Int32, size: UInt64, name: String) throws -> (SafetensorsHeader, [SafetensorsHeader.Validated], UInt64) {
        guard size >= 8 else { throw SafetensorsError.truncated(file: name, offset: 0, needed: 8, available: Int(size)) }
        let prefix = try readBytes(fd: fd, at: 0, count: 8, file: name)
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(prefix[i]) << (8 * UInt64(i)) }
        guard length <= UInt64(SafetensorsFile.maxHeaderBytes) else {
            throw SafetensorsError.headerTooLarge(file: name, length: length, limit: SafetensorsFile.maxHeaderBytes)
        }
        guard length <= size - 8 else {
            throw SafetensorsError.truncated(file: name, offset: 8, needed: length, available: Int(size - 8))
        }
        let headerBytes = try readBytes(fd: fd, at: 8, count: Int(length), file: name)
        let header = try SafetensorsHeader.parse(headerBytes[...], file: name)
        let dataStart = 8 + length
        let validated = try header.validated(dataBytes: size - dataStart, dataStart: Int(dataStart), file: name)
        return (header, validated, dataStart)
    }
}

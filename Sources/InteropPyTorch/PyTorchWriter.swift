#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ConvNet
import Foundation
import ModelArchive
import ZlibCoding

/// Writes a model as a `torch.save` zip of its state dict (`Schemas/pytorch.md` section 4), one tensor at a
/// time: every member stored, each member's data starting at a multiple of 64 bytes (padded with an `FB` extra
/// field, as PyTorch does), float32 storages `data/0`, `data/1`, ... in the architecture's parameter order.
/// The keys are those of the `nn.Sequential` of ``PyTorchMapping/sequentialDefinition(of:)``.
public enum PyTorchWriter {
    /// The archive's top-level folder.
    static let folder = "archive/"
    static let alignment = 64

    /// Writes atomically (``AtomicFile``).
    ///
    /// - Throws: ``PyTorchError/invalidWrite(reason:)`` when the model's parameters do not match its
    ///   architecture or the file would need zip64; ``ArchiveError/writeFailed(path:reason:)``; what fetching a
    ///   tensor throws.
    public static func write(_ model: StreamedModel, to path: String) throws {
        do {
            try model.checkParameters()
        } catch {
            throw PyTorchError.invalidWrite(reason: "\(error)")
        }
        let layout = try PyTorchMapping.sequentialLayout(of: model.architecture)
        let descriptors = Dictionary(model.parameters.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let pickle = PickleWriter.stateDict(layout.enumerated().map { (key: $1.key, storage: String($0), shape: $1.torchShape) })
        let record = CNNKitRecord(formatVersion: CNNKitRecord.currentVersion, architecture: model.architecture.jsonString(), metadata: model.metadata,
                                  probes: model.probes.map { CNNKitRecord.ProbeShapes(source: $0.source, inputs: $0.inputs.shape, outputs: $0.outputs.shape) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let recordBytes = [UInt8](try encoder.encode(record))
        let probeBytes = UInt64((model.probes.map { $0.inputs.scalars.count + $0.outputs.scalars.count } ?? 0) * 4)
        let total = layout.reduce(UInt64(pickle.count + recordBytes.count) + probeBytes) { $0 + UInt64($1.torchShape.reduce(1, *) * 4 + 2 * alignment + 128) }
        guard total < 0xFFFF_0000 else {
            throw PyTorchError.invalidWrite(reason: "the state dict would take \(total) bytes; CNNKit writes .pt files under 4 GiB (no zip64)")
        }
        try AtomicFile.write(to: path) { temp in
            let fd = open(temp, O_WRONLY | O_TRUNC | O_CLOEXEC)
            guard fd >= 0 else { throw ArchiveError.cannotCreate(path: path, reason: errnoText()) }
            defer { close(fd) }
            var zip = ZipWriter(fd: fd, path: path)
            try zip.add("data.pkl", pickle)
            try zip.add(".format_version", Array("1".utf8))
            try zip.add(".storage_alignment", Array(String(alignment).utf8))
            try zip.add("byteorder", Array("little".utf8))
            for (i, p) in layout.enumerated() {
                guard let descriptor = descriptors[p.descriptor.name] else {
                    throw PyTorchError.invalidWrite(reason: "the model has no tensor \(p.descriptor.name)")
                }
                let values = p.transform.toNCHW(try model.fetch(descriptor).scalars, nchwShape: p.torchShape)
                try zip.add("data/\(i)", floats: values)
            }
            try zip.add("version", Array("3\n".utf8))
            try zip.add(CNNKitRecord.member, recordBytes)
            if let probes = model.probes {
                try zip.add(CNNKitRecord.probeInputs, floats: probes.inputs.scalars)
                try zip.add(CNNKitRecord.probeOutputs, floats: probes.outputs.scalars)
            }
            try zip.finish()
        }
    }

    /// A zip of stored members written sequentially to a file descriptor; each local header's CRC-32 is written
    /// back once the member's data is out.
    struct ZipWriter {
        let fd: Int32
        let path: String
        var offset: UInt64 = 0
        var central: [UInt8] = []
        var count = 0

        mutating func put(_ bytes: UnsafeRawBufferPointer) throws {
            do {
                try FileIO.writeAll(fd, bytes)
            } catch {
                throw ArchiveError.writeFailed(path: path, reason: error.description)
            }
            offset += UInt64(bytes.count)
        }

        mutating func add(_ name: String, _ data: [UInt8]) throws {
            try add(name, size: data.count) { zip in try data.withUnsafeBytes { try zip.put($0) }; return data.withUnsafeBytes { Zlib.crc32($0) } }
        }

        mutating func add(_ name: String, floats: [Float]) throws {
            #if _endian(little)
            try add(name, size: floats.count * 4) { zip in try floats.withUnsafeBytes { try zip.put($0) }; return floats.withUnsafeBytes { Zlib.crc32($0) } }
            #else
            try add(name, floats.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) })
            #endif
        }

        private mutating func add(_ member: String, size: Int, body: (inout ZipWriter) throws -> UInt32) throws {
            let name = Array((PyTorchWriter.folder + member).utf8)
            let headerOffset = offset
            let base = Int(offset) + 30 + name.count + 4
            let padding = (PyTorchWriter.alignment - base % PyTorchWriter.alignment) % PyTorchWriter.alignment
            var header: [UInt8] = []
            header.le(0x0403_4B50, 4)
            header.le(20, 2) // version needed
            header.le(0x0800, 2) // UTF-8 names
            header.le(0, 2) // stored
            header.le(0, 2); header.le(0x21, 2) // 1980-01-01 00:00
            header.le(0, 4) // CRC-32, written back below
            header.le(UInt64(size), 4); header.le(UInt64(size), 4)
            header.le(UInt64(name.count), 2); header.le(UInt64(4 + padding), 2)
            header += name
            header.le(0x4246, 2); header.le(UInt64(padding), 2) // "FB" padding extra field, as PyTorch writes
            header += [UInt8](repeating: 0x5A, count: padding)
            try header.withUnsafeBytes { try put($0) }
            let crc = try body(&self)
            var crcBytes: [UInt8] = []
            crcBytes.le(UInt64(crc), 4)
            let written = crcBytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, 4, off_t(headerOffset + 14)) }
            guard written == 4 else { throw ArchiveError.writeFailed(path: path, reason: "pwrite: \(errnoText())") }
            central.le(0x0201_4B50, 4)
            central.le(20, 2); central.le(20, 2)
            central.le(0x0800, 2); central.le(0, 2)
            central.le(0, 2); central.le(0x21, 2)
            central.le(UInt64(crc), 4)
            central.le(UInt64(size), 4); central.le(UInt64(size), 4)
            central.le(UInt64(name.count), 2); central.le(0, 2); central.le(0, 2)
            central.le(0, 2); central.le(0, 2); central.le(0, 4)
            central.le(headerOffset, 4)
            central += name
            count += 1
        }

        mutating func finish() throws {
            let directoryOffset = offset
            var end: [UInt8] = []
            end.le(0x0605_4B50, 4)
            end.le(0, 2); end.le(0, 2)
            end.le(UInt64(count), 2); end.le(UInt64(count), 2)
            end.le(UInt64(central.count), 4)
            end.le(directoryOffset, 4)
            end.le(0, 2)
            let directory = central + end
            try directory.withUnsafeBytes { try put($0) }
        }
    }
}

extension Array where Element == UInt8 {
    fileprivate mutating func le(_ value: UInt64, _ bytes: Int) {
        for i in 0..<bytes { append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }
}

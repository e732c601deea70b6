import Foundation
import HDF5Format
import ModelArchive
import ZIPFoundation

#if canImport(Glibc)
import Glibc
#endif

/// Writes a `.keras` zip (`Schemas/keras-mapping.md` §1): `metadata.json`, `config.json` and
/// `model.weights.h5`, in that order, all stored (no compression) with a fixed date, so that the same document
/// gives the same bytes. The weights member is written to a named ``TemporaryFile`` beside the output first
/// (libhdf5 opens it by its path), one tensor at a time from the model; it is then copied into the zip a chunk at
/// a time from disk; the zip goes to the output through ``AtomicFile``.
struct KerasArchiveWriter {
    let model: StreamedModel
    /// The destination the user named.
    let path: String
    let options: HDF5WriteOptions

    func write() throws {
        let config = Data(KerasConfigFile.json(for: model.smallParts).utf8)
        let metadata = Data(KerasArchiveLayout.metadataJSON.utf8)
        try AtomicFile.write(to: path) { temp in
            let weights = try AtomicFile.scratchFile(beside: path, naming: .named)
            defer { weights.remove() }
            // Removed by the watchdog too, should libhdf5 never return on it.
            try HDF5Library.removeOnStall([weights.path]) {
                try HDF5Model.writeKerasWeights(model, toPart: weights.path, name: "\(path):\(KerasArchiveLayout.weights)", options: options)
            }
            try writeZip(at: temp, metadata: metadata, config: config, weights: weights.path)
        }
    }

    /// Writes the zip into the empty file at `temp` (which may be `/proc/self/fd/N` of an unnamed file) and
    /// closes it before returning. ZIPFoundation's `.create` mode writes an empty end-of-central-directory
    /// record to a new file and continues as `.update`; the record is written here into the existing file, then
    /// the archive is opened in `.update` mode: the same bytes.
    private func writeZip(at temp: String, metadata: Data, config: Data, weights: String) throws {
        try AtomicFile.fill(temp, with: Self.emptyArchive, for: path)
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: temp), accessMode: .update)
        } catch {
            throw KerasArchiveError.cannotCreate(file: path, reason: "\(error)")
        }
        try add(archive, KerasArchiveLayout.metadata, metadata)
        try add(archive, KerasArchiveLayout.config, config)
        guard let handle = FileHandle(forReadingAtPath: weights) else {
            throw KerasArchiveError.writeFailed(file: path, reason: "cannot reopen the temporary \(KerasArchiveLayout.weights): \(errnoText())")
        }
        defer { try? handle.close() }
        let size: UInt64
        do {
            size = try handle.seekToEnd()
            try handle.seek(toOffset: 0)
        } catch {
            throw KerasArchiveError.writeFailed(file: path, reason: "\(KerasArchiveLayout.weights): \(error)")
        }
        try add(archive, KerasArchiveLayout.weights, size: size) { position, count in
            try handle.seek(toOffset: UInt64(clamping: position))
            return try handle.read(upToCount: count) ?? Data()
        }
    }

    /// An empty zip: the end-of-central-directory record alone, as ZIPFoundation's `.create` mode writes it.
    static let emptyArchive: [UInt8] = [0x50, 0x4B, 0x05, 0x06] + [UInt8](repeating: 0, count: 18)

    private func add(_ archive: Archive, _ name: String, _ data: Data) throws {
        try add(archive, name, size: UInt64(data.count)) { position, count in
            let start = min(Int(clamping: position), data.count)
            return data.subdata(in: start..<min(start + count, data.count))
        }
    }

    /// Adds one stored member (`Archive.addEntry`) with the fixed date and permissions.
    private func add(_ archive: Archive, _ name: String, size: UInt64, provider: @escaping (Int64, Int) throws -> Data) throws {
        guard let uncompressedSize = Int64(exactly: size) else {
            throw KerasArchiveError.writeFailed(file: path, reason: "\(name) of \(size) bytes is too large")
        }
        do {
            try archive.addEntry(with: name, type: .file, uncompressedSize: uncompressedSize, modificationDate: KerasArchiveLayout.memberDate,
                                 permissions: KerasArchiveLayout.memberPermissions, compressionMethod: .none, provider: provider)
        } catch {
            throw KerasArchiveError.writeFailed(file: path, reason: "adding \(name): \(error)")
        }
    }
}

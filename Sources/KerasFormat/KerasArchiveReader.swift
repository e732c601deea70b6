import ConvNet
import Foundation
import HDF5Format
import ModelArchive
import ZIPFoundation
import ZipIntegrity

#if canImport(Glibc)
import Glibc
#endif

/// Opens a `.keras` zip (`Schemas/keras-mapping.md` §1) for streaming: checks the member list and sizes before
/// extracting, verifies each member's CRC-32, reads `config.json` for the architecture and optimizer, and
/// extracts the `model.weights.h5` member to a temporary file, whose layout (our `/cnnkit` extras, and where each
/// weight is) is read now and each weight when asked.
struct KerasArchiveReader {
    /// The file as the user named it.
    let path: String

    /// - Parameter formatVersion: what `inspect` shows for the file, from its metadata.
    func open(formatVersion: ([String: String]) -> String) throws -> HDF5TensorReader {
        guard access(path, R_OK) == 0 else { throw KerasArchiveError.missingFile(file: path, reason: errnoText()) }
        let fileSize = try self.fileSize()
        let archive: Archive
        // Keras reads members through their local headers: one that disagrees with the directory is damage.
        do {
            archive = try ZipLocalHeaders.openForReading(URL(fileURLWithPath: path))
        } catch {
            throw KerasArchiveError.invalid(file: path, member: error.member, reason: error.unreadable ? "not a readable zip archive (\(error.reason))" : error.reason)
        }
        let members = try self.members(archive, fileSize: fileSize)
        guard let configEntry = members[KerasArchiveLayout.config] else {
            throw missing(KerasArchiveLayout.config, members)
        }
        guard let weightsEntry = members[KerasArchiveLayout.weights] else {
            if members[KerasArchiveLayout.npzWeights] != nil {
                throw KerasArchiveError.unsupported(file: path, member: KerasArchiveLayout.npzWeights,
                                                    reason: "Keras' npz weights format (CNNKit reads model.weights.h5)")
            }
            throw missing(KerasArchiveLayout.weights, members)
        }
        if let metadataEntry = members[KerasArchiveLayout.metadata] {
            let data = try extractJSON(archive, metadataEntry, name: KerasArchiveLayout.metadata)
            guard (try? JSONSerialization.jsonObject(with: data)) is [String: Any] else {
                throw KerasArchiveError.invalid(file: path, member: KerasArchiveLayout.metadata, reason: "not a JSON object")
            }
        }
        let configData = try extractJSON(archive, configEntry, name: KerasArchiveLayout.config)
        let (architecture, optimizer) = try KerasConfigFile.read(json: String(decoding: configData, as: UTF8.self), file: path,
                                                                 location: KerasArchiveLayout.config)
        let temp = try extractToTemporaryFile(archive, weightsEntry)
        do {
            // Removed by the watchdog too, should libhdf5 never return on it.
            let (source, layout) = try HDF5Library.removeOnStall([temp.path]) {
                try HDF5Model.readKerasWeightsLayout(path: temp.path, name: "\(path):\(KerasArchiveLayout.weights)", architecture: architecture,
                                                     optimizer: optimizer)
            }
            return HDF5TensorReader(file: path, source: source, layout: layout, part: temp, variant: formatVersion(layout.metadata))
        } catch {
            temp.remove()
            throw error
        }
    }

    // MARK: Members

    private func fileSize() throws -> UInt64 {
        var info = stat()
        guard stat(path, &info) == 0 else { throw KerasArchiveError.missingFile(file: path, reason: errnoText()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw KerasArchiveError.missingFile(file: path, reason: "not a regular file") }
        return UInt64(clamping: info.st_size)
    }

    /// The archive's members by path, each checked: listed once, a plain file, stored or deflated, with sizes
    /// the file can hold.
    private func members(_ archive: Archive, fileSize: UInt64) throws -> [String: Entry] {
        var members: [String: Entry] = [:]
        for entry in archive {
            guard members.count < KerasArchiveLayout.maximumMembers else {
                throw KerasArchiveError.invalid(file: path, member: nil, reason: "more than \(KerasArchiveLayout.maximumMembers) members")
            }
            let name = entry.path
            guard members[name] == nil else { throw KerasArchiveError.invalid(file: path, member: name, reason: "member listed twice") }
            members[name] = entry
            guard [KerasArchiveLayout.config, KerasArchiveLayout.metadata, KerasArchiveLayout.weights].contains(name) else { continue }
            guard entry.type == .file else { throw KerasArchiveError.invalid(file: path, member: name, reason: "expected a file, found a \(entry.type)") }
            let (stored, size) = (entry.compressedSize, entry.uncompressedSize)
            guard stored <= fileSize else {
                throw KerasArchiveError.invalid(file: path, member: name, reason: "claims \(stored) stored bytes, but the archive has \(fileSize)")
            }
            if entry.isCompressed {
                let (bound, overflow) = stored.multipliedReportingOverflow(by: KerasArchiveLayout.maximumCompressionRatio)
                guard overflow || size <= bound else {
                    throw KerasArchiveError.invalid(file: path, member: name, reason: "claims \(size) bytes from \(stored) compressed bytes (more than \(KerasArchiveLayout.maximumCompressionRatio):1)")
                }
            } else {
                guard size == stored else {
                    throw KerasArchiveError.invalid(file: path, member: name, reason: "stored member of \(size) bytes occupies \(stored) bytes")
                }
            }
        }
        return members
    }

    private func missing(_ name: String, _ members: [String: Entry]) -> KerasArchiveError {
        .invalid(file: path, member: name, reason: "missing: a .keras archive holds \(KerasArchiveLayout.metadata), \(KerasArchiveLayout.config) and \(KerasArchiveLayout.weights); found \(members.keys.sorted())")
    }

    /// Extracts a JSON member into memory, checking its size and CRC-32.
    private func extractJSON(_ archive: Archive, _ entry: Entry, name: String) throws -> Data {
        guard entry.uncompressedSize <= KerasArchiveLayout.maximumJSONBytes else {
            throw KerasArchiveError.invalid(file: path, member: name, reason: "\(entry.uncompressedSize) bytes is more than \(KerasArchiveLayout.maximumJSONBytes)")
        }
        var data = Data()
        try extract(archive, entry, name: name) { chunk in data.append(chunk) }
        return data
    }

    /// Extracts `model.weights.h5` into a fresh ``TemporaryFile`` (named, in the system's temporary folder:
    /// libhdf5 opens it by its path); the caller removes it.
    private func extractToTemporaryFile(_ archive: Archive, _ entry: Entry) throws -> TemporaryFile {
        let temp: TemporaryFile
        do {
            temp = try TemporaryFile(in: TemporaryFile.systemFolder, base: "cnnkit-keras", naming: .named)
        } catch {
            throw KerasArchiveError.cannotCreate(file: TemporaryFile.systemFolder, reason: "temporary file for \(KerasArchiveLayout.weights): \(error)")
        }
        do {
            try extract(archive, entry, name: KerasArchiveLayout.weights) { chunk in
                do {
                    try chunk.withUnsafeBytes { raw in try FileIO.writeAll(temp.descriptor, raw) }
                } catch let error as SystemCallError {
                    throw KerasArchiveError.cannotCreate(file: temp.path, reason: "temporary file for \(KerasArchiveLayout.weights): \(error)")
                }
            }
        } catch {
            temp.remove()
            throw error
        }
        return temp
    }

    /// Extracts a member through `consumer`, counting bytes against the directory's size and comparing the
    /// CRC-32 of the data with the directory's.
    private func extract(_ archive: Archive, _ entry: Entry, name: String, _ consumer: (Data) throws -> Void) throws {
        var count: UInt64 = 0
        let expected = entry.uncompressedSize
        let checksum: CRC32
        do {
            checksum = try archive.extract(entry, skipCRC32: false) { chunk in
                count += UInt64(chunk.count)
                guard count <= expected else {
                    throw KerasArchiveError.invalid(file: path, member: name, reason: "data runs past the \(expected) bytes the directory declares")
                }
                try consumer(chunk)
            }
        } catch let error as KerasArchiveError {
            throw error
        } catch {
            throw KerasArchiveError.invalid(file: path, member: name, reason: "cannot extract (\(error))")
        }
        guard count == expected else {
            throw KerasArchiveError.invalid(file: path, member: name, reason: "expected \(expected) bytes, extracted \(count)")
        }
        guard checksum == entry.checksum else {
            throw KerasArchiveError.invalid(file: path, member: name, reason: "CRC-32 mismatch: the directory says \(hex(entry.checksum)), the data gives \(hex(checksum))")
        }
    }

    private func hex(_ value: CRC32) -> String { "0x" + String(value, radix: 16) }
}

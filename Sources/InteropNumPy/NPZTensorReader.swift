import ConvNet
import Foundation
import ModelArchive

/// An npz file opened for streaming (``TensorStreamReader``): opening reads the zip's central directory (and
/// checks the local headers against it), the `__cnnkit__` metadata, the probes and the header of every other
/// `.npy` member (its first bytes only: name, dtype and shape, checked against the member's declared size);
/// ``readTensor(named:)`` then inflates one member, decoding it into float32 values as it comes and checking its
/// size and CRC-32. The file stays open until the reader is released.
///
/// Files in the seed's layout (`filters`, `weights`, `biases`: a few kilobytes) are read whole when opened, as
/// their convolution kernel is reordered from all of `filters`.
public final class NPZTensorReader: TensorStreamReader {
    /// The file as messages name it.
    public let file: String
    public let header: ModelHeader
    private let archive: NPZArchiveReader
    /// The `.npy` members by key.
    private let members: [String: NPZArchiveReader.Member]
    /// A seed-layout file, read whole.
    private let seed: DocumentReader?

    /// Opens an npz file and reads everything but the tensor values.
    ///
    /// - Parameter architecture: used when the archive carries none (no `__cnnkit__`); for the seed's layout it
    ///   replaces the inferred architecture.
    /// - Throws: a ``NumPyError`` naming the member and what is wrong.
    public convenience init(path: String, architecture: Architecture? = nil) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw NumPyError.missingFile(path: path, reason: "no such file") }
        guard !isDirectory.boolValue else { throw NumPyError.missingFile(path: path, reason: "is a folder") }
        guard FileManager.default.isReadableFile(atPath: path) else { throw NumPyError.missingFile(path: path, reason: "permission denied") }
        try self.init(url: URL(fileURLWithPath: path), name: path, architecture: architecture)
    }

    /// Opens the npz at `url`; `name` stands for the file in error messages.
    init(url: URL, name: String, architecture given: Architecture?) throws {
        file = name
        let archive = try NPZArchiveReader(url: url, name: name)
        self.archive = archive
        var members: [String: NPZArchiveReader.Member] = [:]
        var shapes: [String: [Int]] = [:]
        var metadataText: String?
        for member in archive.members {
            guard member.name.hasSuffix(".npy"), member.name.count > 4 else {
                throw NumPyError.badMember(file: name, member: member.name, reason: "is not a .npy array (npz members are named <key>.npy)")
            }
            let key = String(member.name.dropLast(4))
            if key == NPZLayout.metadataKey {
                let bytes = try archive.bytes(of: member)
                metadataText = try archive.arrayErrors(member) { try NumPyArray.parseText(bytes, path: member.name) }
            } else {
                members[key] = member
                shapes[key] = try archive.header(of: member).shape
            }
        }
        self.members = members

        let layout: DocumentLayout, architecture: Architecture, metadata: [String: String]
        var probesSource: String?
        if let metadataText {
            let meta: NPZLayout.Metadata
            do {
                meta = try ArchiveJSON.decoder().decode(NPZLayout.Metadata.self, from: Data(metadataText.utf8))
            } catch {
                throw NumPyError.document(file: name, member: NPZLayout.member(NPZLayout.metadataKey), reason: "not CNNKit metadata JSON: \(error)")
            }
            guard meta.formatVersion == NPZLayout.formatVersion else {
                throw NumPyError.document(file: name, member: NPZLayout.member(NPZLayout.metadataKey),
                                          reason: "format_version \(meta.formatVersion) is not supported (this build reads \(NPZLayout.formatVersion))")
            }
            layout = try NPZModel.layout(shapes: shapes, architecture: meta.architecture, state: meta.trainingState, file: name)
            architecture = meta.architecture
            metadata = meta.metadata
            probesSource = meta.probesSource
        } else if NPZSeedLayout.matches(shapes.keys) {
            var arrays: [String: NumPyArray] = [:]
            for member in archive.members { arrays[String(member.name.dropLast(4))] = try archive.array(member) }
            let document = try NPZSeedLayout.document(arrays: arrays, given: given, file: name)
            let seed = DocumentReader(document)
            self.seed = seed
            header = seed.header
            return
        } else if let given {
            layout = try NPZModel.layout(shapes: shapes, architecture: given, state: nil, file: name)
            architecture = given
            metadata = [:]
        } else {
            // Damage is worth saying before asking for an architecture: check every member to its end.
            for member in archive.members { _ = try archive.array(member) }
            throw NumPyError.missingArchitecture(file: name)
        }
        seed = nil
        let probes = try layout.probes.map { p in
            Probes(inputs: try Self.read(p.inputs.name, members: members, archive: archive),
                   outputs: try Self.read(p.outputs.name, members: members, archive: archive), source: probesSource ?? "")
        }
        header = ModelHeader(architecture: architecture, trainingState: layout.trainingState, probes: probes, metadata: metadata,
                             parameters: layout.parameters, slots: layout.slots)
    }

    /// Reads one parameter or optimizer slot: its member is inflated and decoded now, its size and CRC-32 checked.
    ///
    /// - Throws: a ``NumPyError`` naming the member.
    public func readTensor(named name: String) throws -> Tensor {
        if let seed { return try seed.readTensor(named: name) }
        return try Self.read(name, members: members, archive: archive)
    }

    private static func read(_ key: String, members: [String: NPZArchiveReader.Member], archive: NPZArchiveReader) throws -> Tensor {
        guard let member = members[key] else {
            throw NumPyError.document(file: archive.file, member: NPZLayout.member(key), reason: "missing")
        }
        let array = try archive.array(member)
        return Tensor(shape: array.shape, scalars: array.values)
    }
}

import CNNKitTestSupport
import ConvNet
import Foundation
import ModelArchive
import ZIPFoundation

/// Paths, generators and hand-made archives shared by the Keras tests.
enum TestSupport {
    static let packageRoot = TestFiles.packageRoot
    /// `Fixtures/keras`.
    static let kerasFixtures = TestFiles.kerasFixtures
    static let specialFloats = RandomDocuments.specialFloats

    static func temporaryDirectory() throws -> URL { try TestFiles.temporaryDirectory(prefix: "keras") }
    static func scalars(_ count: Int, rng: inout RandomGenerator) -> [Float] { RandomDocuments.scalars(count, rng: &rng) }
    static func architecture(rng: inout RandomGenerator) -> Architecture { RandomDocuments.architecture(rng: &rng) }
    static func document(seed: UInt64) throws -> ModelDocument { try RandomDocuments.document(seed: seed) }

    /// A zip with the given members, in order, each stored or deflated, written to `url`.
    static func writeZip(_ members: [(name: String, bytes: [UInt8])], to url: URL, compression: CompressionMethod = .none) throws {
        let archive = try Archive(accessMode: .create)
        for member in members {
            let data = Data(member.bytes)
            try archive.addEntry(with: member.name, type: .file, uncompressedSize: Int64(data.count), compressionMethod: compression) { position, size in
                data.subdata(in: Int(position)..<min(Int(position) + size, data.count))
            }
        }
        guard let data = archive.data else { throw CocoaError(.fileWriteUnknown) }
        try data.write(to: url)
    }

    /// The members of a zip as name and bytes.
    static func readZip(_ url: URL) throws -> [(name: String, bytes: [UInt8])] {
        let archive = try Archive(url: url, accessMode: .read)
        return try archive.map { entry in
            var bytes: [UInt8] = []
            _ = try archive.extract(entry) { bytes += $0 }
            return (entry.path, bytes)
        }
    }

    /// The seed architecture with a random document's parts: weights only, nothing else.
    static func seedDocument(seed: UInt64) throws -> ModelDocument {
        var rng = RandomGenerator(seed: seed)
        var network = try Network(architecture: .seed)
        network.initialize(using: &rng)
        return ModelDocument(network: network)
    }
}

/// ZIPFoundation's archive, opened for reading.
enum ZIPFoundationArchive {
    static func open(_ url: URL) throws -> Archive { try Archive(url: url, accessMode: .read) }
}

import ConvNet
import Foundation
import ModelArchive
import ModelFiles
import Testing

/// `inspect` and `verify` say what an HDF5 file's checksums covered: Fletcher-32 is per dataset and optional.
@Suite("Integrity statements")
struct IntegrityTests {
    func document() throws -> ModelDocument {
        var network = try Network(architecture: Architecture(input: .init(height: 4, width: 4, channels: 1),
                                                             kinds: [.flatten, .dense(DenseSpec(units: 3)), .softmax]))
        var rng = RandomGenerator(seed: 1)
        network.initialize(using: &rng)
        return ModelDocument(network: network)
    }

    @Test("a contiguous HDF5 file claims no checksum; a deflated one counts the datasets that carry one")
    func hdf5() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("integrity-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let plain = folder + "/plain.h5", deflated = folder + "/deflate.h5"
        try ModelFiles.save(try document(), to: plain)
        try ModelFiles.save(try document(), to: deflated, options: SaveOptions(compress: true))
        let none = try ModelFiles.open(plain).integrity
        #expect(none.contains("carries a Fletcher-32 checksum, so libhdf5 verified no checksum"), "\(none)")
        let some = try ModelFiles.open(deflated).integrity
        #expect(some.contains("Fletcher-32 checksums of") && !some.contains(" 0 of"), "\(some)")
        let cnnz = folder + "/m.cnnz"
        try ModelFiles.save(try document(), to: cnnz)
        #expect(try ModelFiles.open(cnnz).integrity == ModelFiles.format(named: "cnnz")?.integrity)
    }
}

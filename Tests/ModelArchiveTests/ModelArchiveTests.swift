import ConvNet
import Foundation
import Testing
@testable import ModelArchive

@Suite("Model archive")
struct ModelArchiveTests {
    func tempDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cnnkit-archive-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("atomic writes replace the file and leave nothing behind")
    func atomicWrite() throws {
        let dir = try tempDirectory()
        let path = dir + "/out.bin"
        try AtomicFile.write(bytes: [1, 2, 3], to: path)
        try AtomicFile.write(bytes: [4, 5], to: path)
        #expect(FileManager.default.contents(atPath: path) == Data([4, 5]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out.bin"])
    }

    @Test("a failing write leaves the existing file untouched and no temporary file")
    func atomicFailure() throws {
        struct Boom: Error {}
        let dir = try tempDirectory()
        let path = dir + "/out.bin"
        try AtomicFile.write(bytes: [9], to: path)
        #expect(throws: Boom.self) {
            try AtomicFile.write(to: path) { temp in
                try Data([1, 2, 3]).write(to: URL(fileURLWithPath: temp))
                throw Boom()
            }
        }
        #expect(FileManager.default.contents(atPath: path) == Data([9]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out.bin"])
    }

    @Test("an unwritable folder is a cannot-create error")
    func unwritable() throws {
        let error = try #require(throws: ArchiveError.self) { try AtomicFile.write(bytes: [1], to: "/nonexistent-folder/x.bin") }
        #expect(error.category == .cannotCreateOutput)
    }

    @Test("probes record what the network computes")
    func probes() throws {
        var network = try Network(architecture: .seed)
        var rng = RandomGenerator(seed: 1)
        network.initialize(using: &rng)
        let inputs = Probes.randomInputs(shape: network.shapes[0], count: 3, seed: 4)
        #expect(inputs.shape == [3, 28, 28, 1])
        #expect(inputs == Probes.randomInputs(shape: network.shapes[0], count: 3, seed: 4))
        let probes = try Probes.record(network: network, inputs: inputs, source: "random:seed=4")
        #expect(probes.outputs.shape == [3, 10])
        #expect(probes.outputs.scalars == (try network.predict(.floats(inputs.scalars))))
        let document = ModelDocument(network: network, probes: probes)
        #expect(try document.network().flatParameters == network.flatParameters)
    }
}

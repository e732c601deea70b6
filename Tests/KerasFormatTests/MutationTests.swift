import ConvNet
import Foundation
import HDF5Format
import ModelArchive
import Testing
@testable import KerasFormat

/// Damaged copies of a small `.keras` file: every one reads or throws, none traps.
@Suite(".keras damage")
struct MutationTests {
    static func smallDocument() throws -> ModelDocument {
        let architecture = Architecture(input: ActivationShape(height: 4, width: 4, channels: 1),
                                        kinds: [.conv2d(Conv2DSpec(filters: 2, kernel: [2, 2], bias: true)), .flatten, .dense(DenseSpec(units: 3)), .softmax])
        var rng = RandomGenerator(seed: 1)
        var network = try Network(architecture: architecture)
        network.initialize(using: &rng)
        return ModelDocument(network: network)
    }

    @Test("single-byte changes and truncations read or throw, never trap")
    func damage() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = directory.appendingPathComponent("good.keras")
        try KerasArchive.write(try Self.smallDocument(), to: good.path)
        let bytes = [UInt8](try Data(contentsOf: good))
        let damaged = directory.appendingPathComponent("damaged.keras")
        var rng = RandomGenerator(seed: 42)
        var outcomes = (read: 0, refused: 0)
        func attempt(_ variant: [UInt8]) throws {
            try Data(variant).write(to: damaged)
            do {
                _ = try KerasArchive.read(path: damaged.path)
                outcomes.read += 1
            } catch let error as any ModelFileError {
                #expect(error.category == .invalidInput, "\(error)")
                outcomes.refused += 1
            }
        }
        // The zip structures (local headers, central directory, end record) and the JSON members are in the
        // first few hundred and the last few hundred bytes; hit those densely, the HDF5 member sparsely.
        let hot = Array(0..<min(400, bytes.count)) + Array(max(0, bytes.count - 300)..<bytes.count)
        for position in hot + (0..<100).map({ _ in Int(rng.next(below: UInt64(bytes.count))) }) {
            var variant = bytes
            variant[position] ^= UInt8(truncatingIfNeeded: 1 + rng.next(below: 255))
            try attempt(variant)
        }
        for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 60)) {
            try attempt(Array(bytes.prefix(length)))
        }
        #expect(outcomes.refused > 0)
    }
}

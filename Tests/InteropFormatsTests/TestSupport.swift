import ConvNet
import Foundation
import CNNKitTestSupport
import ModelArchive

/// Paths and generators shared by the interop format tests.
enum TestSupport {
    static let packageRoot = TestFiles.packageRoot
    static let safetensorsFixtures = packageRoot.appendingPathComponent("Fixtures/safetensors")
    static let npzFixtures = packageRoot.appendingPathComponent("Fixtures/npz")

    /// The tiny network of the fixtures (`Fixtures/safetensors/tiny.arch.json`).
    static func tinyArchitecture() throws -> Architecture {
        try Architecture.decode(json: Data(contentsOf: safetensorsFixtures.appendingPathComponent("tiny.arch.json")))
    }

    /// `tiny.expected.json`: the fixtures' float32 parameter values.
    struct TinyExpectation: Decodable {
        struct Entry: Decodable {
            var shape: [Int]
            var values: [Float]
        }
        var tensors: [String: Entry]

        static func load() throws -> TinyExpectation {
            try JSONDecoder().decode(TinyExpectation.self, from: Data(contentsOf: safetensorsFixtures.appendingPathComponent("tiny.expected.json")))
        }
    }

    static let specialFloats = RandomDocuments.specialFloats

    static func temporaryDirectory() throws -> URL { try TestFiles.temporaryDirectory(prefix: "interop") }
    static func scalars(_ count: Int, rng: inout RandomGenerator) -> [Float] { RandomDocuments.scalars(count, rng: &rng) }
    static func architecture(rng: inout RandomGenerator) -> Architecture { RandomDocuments.architecture(rng: &rng) }
    static func document(seed: UInt64, minimal: Bool = false) throws -> ModelDocument {
        try RandomDocuments.document(seed: seed, minimal: minimal, wholePixelsOnEvenSeeds: true)
    }
}

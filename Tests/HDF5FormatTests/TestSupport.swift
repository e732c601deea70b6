import ConvNet
import Foundation
import CNNKitTestSupport
import ModelArchive
@testable import HDF5Format
@testable import KerasFormat

/// Paths and generators shared by the HDF5 tests.
enum TestSupport {
    static let packageRoot = TestFiles.packageRoot
    /// `Fixtures/keras`.
    static let kerasFixtures = packageRoot.appendingPathComponent("Fixtures/keras")
    static let specialFloats = RandomDocuments.specialFloats

    static func temporaryDirectory() throws -> URL { try TestFiles.temporaryDirectory(prefix: "hdf5") }
    static func scalars(_ count: Int, rng: inout RandomGenerator) -> [Float] { RandomDocuments.scalars(count, rng: &rng) }
    static func architecture(rng: inout RandomGenerator) -> Architecture { RandomDocuments.architecture(rng: &rng) }
    static func document(seed: UInt64) throws -> ModelDocument { try RandomDocuments.document(seed: seed) }
}

/// Expected predictions saved next to a Keras fixture by `Fixtures/keras/make_fixtures.py`.
struct KerasExpectation: Decodable {
    var input_shape: [Int]
    var inputs: [[Float]]
    var outputs: [[Float]]

    static func load(_ name: String) throws -> KerasExpectation {
        let data = try Data(contentsOf: TestSupport.kerasFixtures.appendingPathComponent("\(name).expected.json"))
        return try JSONDecoder().decode(KerasExpectation.self, from: data)
    }
}

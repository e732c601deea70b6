import CNNKitTestSupport
import ConvNet
import Foundation
import HDF5Format
import ModelArchive
import Testing
@testable import KerasFormat

/// Files written by Keras 3.15.1 (jax backend) with `Fixtures/keras/make_keras3_fixtures.py`.
@Suite("Keras 3 fixtures")
struct FixtureTests {
    struct Fixture: CustomStringConvertible, Sendable {
        var name: String
        var optimizer: OptimizerKind
        var slotCount: Int
        var description: String { name }
    }

    static let fixtures = [
        Fixture(name: "keras3_seed_sgd", optimizer: .sgd, slotCount: 3),
        Fixture(name: "keras3_two_conv_adam", optimizer: .adam, slotCount: 10),
    ]

    static func path(_ name: String, _ suffix: String) -> String {
        TestSupport.kerasFixtures.appendingPathComponent(name + suffix).path
    }

    /// The largest difference between the document's predictions and Keras'.
    static func maxError(_ document: ModelDocument, _ expected: KerasExpectation) throws -> Float {
        let outputs = try document.network().predict(.floats(expected.inputs.flatMap { $0 }))
        return zip(outputs, expected.outputs.flatMap { $0 }).map { abs($0 - $1) }.max() ?? .infinity
    }

    @Test(".keras from Keras predicts what Keras predicted and carries its optimizer state", arguments: fixtures)
    func keras(_ fixture: Fixture) throws {
        let document = try KerasArchive.read(path: Self.path(fixture.name, ".keras"))
        #expect(try Self.maxError(document, KerasExpectation.load(fixture.name)) <= 1e-5)
        let state = try #require(document.trainingState)
        #expect(state.optimizer.kind == fixture.optimizer)
        #expect(state.step == 3)
        #expect(state.slots.count == fixture.slotCount)
    }

    @Test(".weights.h5 from Keras read with the .keras' architecture holds the same weights", arguments: fixtures)
    func weights(_ fixture: Fixture) throws {
        let keras = try KerasArchive.read(path: Self.path(fixture.name, ".keras"))
        let weights = try HDF5Model.readKerasWeights(path: Self.path(fixture.name, ".weights.h5"), architecture: keras.architecture)
        #expect(weights.tensors == keras.tensors)
        #expect(weights.trainingState == nil)
        #expect(try Self.maxError(weights, KerasExpectation.load(fixture.name)) <= 1e-5)
    }

    @Test("the second convolution is group conv2d_1, and a ReLU layer is re_lu")
    func twoConvNames() throws {
        let keras = try KerasArchive.read(path: Self.path("keras3_two_conv_adam", ".keras"))
        #expect(keras.architecture.layers.map(\.name) == ["conv2d", "conv2d_relu", "conv2d_1", "re_lu", "max_pooling2d", "flatten", "dense", "softmax"])
        #expect(keras.tensors.map(\.name) == ["conv2d.kernel", "conv2d.bias", "conv2d_1.kernel", "dense.kernel", "dense.bias"])
    }

    @Test("a .keras with an unsupported layer is refused naming the layer and its class")
    func unsupportedLayer() throws {
        let path = Self.path("keras3_unsupported_dropout", ".keras")
        let error = try #require(throws: HDF5Error.self) { try KerasArchive.read(path: path) }
        guard case let .unsupported(file, location, reason) = error else { Issue.record("expected unsupported, got \(error)"); return }
        #expect(file == path && location == "config.json")
        #expect(reason.contains("'dropout'") && reason.contains("Dropout"))
    }

    @Test("a Keras .weights.h5 without an architecture is refused, saying how to give one")
    func needsArchitecture() throws {
        let path = Self.path("keras3_seed_sgd", ".weights.h5")
        let error = try #require(throws: HDF5Error.self) { try HDF5Model.read(path: path) }
        #expect(error.description.contains("--architecture"))
        #expect(error.description.hasPrefix(path))
    }

    @Test("our .keras of a Keras model round-trips to the same document")
    func rewrite() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for fixture in Self.fixtures {
            let document = try KerasArchive.read(path: Self.path(fixture.name, ".keras"))
            let path = directory.appendingPathComponent("\(fixture.name).keras").path
            try KerasArchive.write(document, to: path)
            #expect(try KerasArchive.read(path: path) == document)
        }
    }
}

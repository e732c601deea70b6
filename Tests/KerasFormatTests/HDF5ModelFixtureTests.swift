import CNNKitTestSupport
import ConvNet
import Foundation
import HDF5Format
import ModelArchive
import Testing
@testable import KerasFormat

/// Files written by real Keras 3.15.1 (`Fixtures/keras/make_fixtures.py`), read and run through our network.
@Suite("Keras fixtures")
struct HDF5ModelFixtureTests {
    /// A fixture file and the expectation file its predictions are in.
    struct Fixture: CustomTestStringConvertible, Sendable {
        var file: String
        var expected: String
        var testDescription: String { file }
    }

    static let fixtures = [
        Fixture(file: "seed_sgd_momentum", expected: "seed_sgd_momentum"),
        Fixture(file: "bias_relu_adam", expected: "bias_relu_adam"),
        Fixture(file: "two_conv_stride_same", expected: "two_conv_stride_same"),
        Fixture(file: "dense_hidden_nesterov", expected: "dense_hidden_nesterov"),
        Fixture(file: "variant_f64_be_fixedstr", expected: "bias_relu_adam"),
    ]

    static func path(_ name: String) -> String { TestSupport.kerasFixtures.appendingPathComponent("\(name).h5").path }

    @Test("each Keras fixture predicts what Keras predicted (max abs error <= 1e-5)", arguments: fixtures)
    func predictions(fixture: Fixture) throws {
        let document = try HDF5Model.read(path: Self.path(fixture.file))
        let expected = try KerasExpectation.load(fixture.expected)
        let network = try document.network()
        let outputs = try network.predict(.floats(expected.inputs.flatMap { $0 }))
        let wanted = expected.outputs.flatMap { $0 }
        #expect(outputs.count == wanted.count)
        let worst = zip(outputs, wanted).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-5, "max abs error \(worst)")
    }

    @Test("Keras layers map to our architecture (activations split off, Rescaling to preprocessing)")
    func architectures() throws {
        let seed = try HDF5Model.read(path: Self.path("seed_sgd_momentum")).architecture
        #expect(seed.layers.map(\.kind.typeName) == ["conv2d", "maxpool2d", "flatten", "dense", "softmax"])
        #expect(seed.preprocessing == Preprocessing(scale: Float(1.0 / 255.0), offset: -0.5))
        let twoConv = try HDF5Model.read(path: Self.path("two_conv_stride_same")).architecture
        #expect(twoConv.layers.map(\.name) == ["conv2d", "conv2d_relu", "conv2d_1", "re_lu", "max_pooling2d", "flatten", "dense", "softmax"])
        #expect(twoConv.preprocessing == Preprocessing(scale: 1, offset: 0))
        #expect(twoConv.input == ActivationShape(height: 11, width: 10, channels: 3))
        let dense = try HDF5Model.read(path: Self.path("dense_hidden_nesterov")).architecture
        #expect(dense.layers.map(\.kind.typeName) == ["conv2d", "relu", "flatten", "dense", "relu", "dense", "softmax"])
    }

    @Test("Keras optimizer weights become our training state and slots, and our trainer resumes from them")
    func optimizerState() throws {
        let sgd = try #require(try HDF5Model.read(path: Self.path("seed_sgd_momentum")).trainingState)
        #expect(sgd.optimizer.kind == .sgd && sgd.optimizer.momentum == Float(0.9) && !sgd.optimizer.nesterov)
        #expect(sgd.optimizer.learningRate == Float(0.01))
        #expect(sgd.step == 3 && sgd.epoch == 0)
        #expect(sgd.slots.map(\.name) == ["optimizer.conv2d.kernel.momentum", "optimizer.dense.kernel.momentum", "optimizer.dense.bias.momentum"])
        #expect(sgd.slots.contains { $0.tensor.scalars.contains { $0 != 0 } })

        let nesterov = try #require(try HDF5Model.read(path: Self.path("dense_hidden_nesterov")).trainingState)
        #expect(nesterov.optimizer.nesterov && nesterov.optimizer.momentum == 0.5 && nesterov.slots.count == 5)

        let document = try HDF5Model.read(path: Self.path("bias_relu_adam"))
        let adam = try #require(document.trainingState)
        #expect(adam.optimizer.kind == .adam && adam.optimizer.beta1 == Float(0.9) && adam.optimizer.epsilon == Float(1e-7))
        #expect(adam.step == 3 && adam.slots.count == 8)
        #expect(adam.slots.map(\.name).prefix(2) == ["optimizer.conv2d.kernel.momentum", "optimizer.conv2d.kernel.velocity"])
        var trainer = try Trainer(network: try document.network(), state: adam)
        var rng = RandomGenerator(seed: 1)
        let data = Dataset(images: (0..<(8 * 144)).map { _ in UInt8(rng.next(below: 256)) }, labels: (0..<8).map { _ in UInt8(rng.next(below: 10)) },
                           height: 12, width: 12, channels: 1)
        try trainer.train(on: data, epochs: 1)
        #expect(trainer.state.step > 3)

        #expect(try HDF5Model.read(path: Self.path("two_conv_stride_same")).trainingState == nil)
    }

    @Test("the big-endian float64, fixed-string variant reads like its float32 source")
    func variantMatchesSource() throws {
        let source = try HDF5Model.read(path: Self.path("bias_relu_adam"))
        let variant = try HDF5Model.read(path: Self.path("variant_f64_be_fixedstr"))
        #expect(variant.architecture == source.architecture)
        for (a, b) in zip(variant.tensors, source.tensors) {
            #expect(a.name == b.name)
            #expect(zip(a.tensor.scalars, b.tensor.scalars).allSatisfy { abs($0 - $1) <= 1e-7 * max(1, abs($1)) })
        }
        #expect(variant.trainingState?.step == source.trainingState?.step)
    }

    @Test("an unsupported Keras layer or option is an error naming the layer and the option",
          arguments: [("unsupported_dropout", "Dropout"), ("unsupported_dilation", "dilation_rate")])
    func unsupported(name: String, word: String) throws {
        let error = try #require(throws: HDF5Error.self) { try HDF5Model.read(path: Self.path(name)) }
        guard case .unsupported = error else {
            Issue.record("expected unsupported, got \(error)")
            return
        }
        #expect(error.description.contains(word))
        #expect(error.description.contains("model_config"))
        #expect(error.category == .invalidInput)
    }
}

import ConvNet
import Foundation
import HDF5Format
import ModelArchive
import Testing
@testable import KerasFormat

@Suite("HDF5 round trip")
struct HDF5ModelRoundTripTests {
    @Test("random documents round-trip bitwise (weights, architecture, state with slots, probes, metadata)", arguments: Array(UInt64(1)...UInt64(12)))
    func roundTrip(seed: UInt64) throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let document = try TestSupport.document(seed: seed)
        let path = directory.appendingPathComponent("model.h5").path
        let compression: HDF5Compression = seed % 3 == 0 ? .deflate(level: Int(seed % 10)) : .none
        try HDF5Model.write(document, to: path, options: HDF5WriteOptions(compression: compression))
        let read = try HDF5Model.read(path: path)
        #expect(read.architecture == document.architecture)
        #expect(read.tensors == document.tensors)
        #expect(read.trainingState == document.trainingState)
        #expect(read.probes == document.probes)
        #expect(read.metadata == document.metadata)
    }

    @Test("a document without training state, probes or metadata round-trips")
    func minimal() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var rng = RandomGenerator(seed: 7)
        var network = try Network(architecture: .seed)
        network.initialize(using: &rng)
        let document = ModelDocument(network: network)
        let path = directory.appendingPathComponent("seed.h5").path
        try HDF5Model.write(document, to: path)
        #expect(try HDF5Model.read(path: path) == document)
    }

    @Test("a state whose optimizer keeps no slots (plain SGD) round-trips")
    func plainSGD() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var document = try TestSupport.document(seed: 99)
        document.trainingState?.optimizer = OptimizerConfig(kind: .sgd, learningRate: 0.005)
        document.trainingState?.slots = []
        let path = directory.appendingPathComponent("sgd.h5").path
        try HDF5Model.write(document, to: path)
        #expect(try HDF5Model.read(path: path) == document)
    }

    @Test("writing the same document twice gives the same bytes")
    func deterministic() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let document = try TestSupport.document(seed: 5)
        let a = directory.appendingPathComponent("a.h5").path, b = directory.appendingPathComponent("b.h5").path
        try HDF5Model.write(document, to: a, options: HDF5WriteOptions(compression: .deflate(level: 4)))
        try HDF5Model.write(document, to: b, options: HDF5WriteOptions(compression: .deflate(level: 4)))
        #expect(try Data(contentsOf: URL(fileURLWithPath: a)) == Data(contentsOf: URL(fileURLWithPath: b)))
    }

    @Test("a trained network read back predicts the same and resumes training")
    func trainedNetworkResumes() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let architecture = Architecture(input: ActivationShape(height: 8, width: 8, channels: 1), kinds: [
            .conv2d(Conv2DSpec(filters: 3, bias: true)), .relu, .maxPool2d(MaxPool2DSpec()), .flatten, .dense(DenseSpec(units: 4)), .softmax,
        ])
        var trainer = try Trainer(architecture: architecture, optimizer: OptimizerConfig(kind: .adam, learningRate: 0.01), batchSize: 4, seed: 3)
        var rng = RandomGenerator(seed: 11)
        let images = (0..<(16 * 64)).map { _ in UInt8(rng.next(below: 256)) }
        let labels = (0..<16).map { _ in UInt8(rng.next(below: 4)) }
        let data = Dataset(images: images, labels: labels, height: 8, width: 8, channels: 1)
        try trainer.train(on: data, epochs: 1)
        let inputs = Probes.randomInputs(shape: architecture.input, count: 3)
        let probes = try Probes.record(network: trainer.network, inputs: inputs, source: "random:seed=0")
        let document = ModelDocument(network: trainer.network, trainingState: trainer.state, probes: probes)
        let path = directory.appendingPathComponent("trained.h5").path
        try HDF5Model.write(document, to: path)
        let read = try HDF5Model.read(path: path)
        #expect(read == document)
        let network = try read.network()
        #expect(try network.predict(.floats(inputs.scalars)) == probes.outputs.scalars)
        var resumed = try Trainer(network: network, state: try #require(read.trainingState))
        try resumed.train(on: data, epochs: 2)
        try trainer.train(on: data, epochs: 2)
        #expect(resumed.network.flatParameters == trainer.network.flatParameters)
    }
}

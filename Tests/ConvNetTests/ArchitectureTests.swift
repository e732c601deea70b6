import Foundation
import Testing
@testable import ConvNet

@Suite("Architecture")
struct ArchitectureTests {
    @Test("the seed architecture has the seed's shapes and parameters")
    func seed() throws {
        let shapes = try Architecture.seed.activationShapes()
        #expect(shapes.map(\.dimensions) == [[28, 28, 1], [26, 26, 16], [13, 13, 16], [2704], [10], [10]])
        let specs = try Architecture.seed.parameterSpecs()
        #expect(specs.map(\.name) == ["conv2d.kernel", "dense.kernel", "dense.bias"])
        #expect(specs.map(\.shape) == [[3, 3, 1, 16], [2704, 10], [10]])
        #expect(Architecture.seed.layers.map(\.name) == ["conv2d", "max_pooling2d", "flatten", "dense", "softmax"])
    }

    @Test("JSON round trip keeps every field", arguments: [Architecture.seed, smallArchitecture])
    func jsonRoundTrip(_ arch: Architecture) throws {
        let decoded = try Architecture.decode(json: Data(arch.jsonString().utf8))
        #expect(decoded == arch)
        #expect(decoded.jsonString() == arch.jsonString())
    }

    @Test("layers without names get Keras-style names")
    func autoNames() throws {
        let json = """
        {"input": {"height": 28, "width": 28, "channels": 1}, "layers": [
          {"type": "conv2d", "filters": 32}, {"type": "relu"}, {"type": "maxpool2d"},
          {"type": "conv2d", "filters": 64}, {"type": "relu"}, {"type": "maxpool2d"},
          {"type": "flatten"}, {"type": "dense", "units": 10}, {"type": "softmax"}]}
        """
        let arch = try Architecture.decode(json: Data(json.utf8))
        #expect(arch.layers.map(\.name) == ["conv2d", "re_lu", "max_pooling2d", "conv2d_1", "re_lu_1", "max_pooling2d_1", "flatten", "dense", "softmax"])
        #expect(arch.preprocessing == .seed)
    }

    @Test("invalid architectures are refused with the layer named", arguments: [
        (#"{"input": {"height": 28, "width": 28, "channels": 1}, "layers": [{"type": "dense", "units": 10}]}"#, "dense needs a flat input"),
        (#"{"input": {"height": 2, "width": 2, "channels": 1}, "layers": [{"type": "conv2d", "filters": 4}]}"#, "does not fit"),
        (#"{"input": {"height": 28, "width": 28, "channels": 1}, "layers": [{"type": "softmax"}, {"type": "flatten"}]}"#, "softmax must be the last"),
        (#"{"input": {"height": 28, "width": 28, "channels": 1}, "layers": [{"type": "lstm"}]}"#, "unknown layer type 'lstm'"),
        (#"{"input": {"height": 28, "width": 28, "channels": 1}, "layers": [{"type": "conv2d", "filters": 0}]}"#, "filters must be positive"),
        (#"{"input": {"height": 28, "width": 28, "channels": 1}, "layers": [{"type": "flatten", "name": "a"}, {"type": "dense", "units": 3, "name": "a"}]}"#, "used twice"),
        (#"{"input": {"height": 65536, "width": 65536, "channels": 65536}, "layers": []}"#, "too large"),
        (#"{"version": 2, "input": {"height": 1, "width": 1, "channels": 1}, "layers": []}"#, "version 2"),
        (#"{"input": {"height": 28}"#, "malformed JSON"),
    ])
    func invalid(json: String, message: String) throws {
        let error = try #require(throws: ConvNetError.self) { try Architecture.decode(json: Data(json.utf8)) }
        #expect(error.description.contains(message), "\(error)")
    }

    @Test("parameters load by name and shape; wrong names and shapes are named")
    func loading() throws {
        var network = try Network(architecture: .seed)
        var params = network.parameters
        try network.load(parameters: params.reversed())
        params[1].tensor = Tensor(zeros: [10, 2704])
        #expect(throws: ConvNetError.shapeMismatch(name: "dense.kernel", expected: [2704, 10], found: [10, 2704])) { try network.load(parameters: params) }
        params[1].name = "dense.weights"
        #expect(throws: ConvNetError.missingParameter(name: "dense.kernel")) { try network.load(parameters: params) }
        params[1] = NamedTensor(name: "dense.kernel", tensor: Tensor(zeros: [2704, 10]))
        params.append(NamedTensor(name: "extra.bias", tensor: Tensor(zeros: [1])))
        #expect(throws: ConvNetError.unknownParameter(name: "extra.bias")) { try network.load(parameters: params) }
    }

    @Test("exchange layout round trip is exact, dense kernels included")
    func exchange() throws {
        var network = try Network(architecture: smallArchitecture)
        var r = TestRandom(5)
        network.randomize(&r)
        let copy = try Network(architecture: smallArchitecture, parameters: network.parameters)
        #expect(copy.flatParameters.map(\.bitPattern) == network.flatParameters.map(\.bitPattern))
        // Dense kernel [in, out]: element (i, j) drives output j from input i.
        let dense = try #require(network.parameters.first { $0.name == "dense.kernel" })
        let pixels = r.pixels(network.inputCount)
        let outputs = try network.layerOutputs(pixels)
        let flat = outputs[outputs.count - 3], logits = outputs[outputs.count - 2]
        let bias = try #require(network.parameters.first { $0.name == "dense.bias" })
        var z1: Double = Double(bias.tensor.scalars[1])
        for i in 0..<flat.count { z1 += Double(flat[i]) * Double(dense.tensor.scalars[i * 10 + 1]) }
        #expect(abs(z1 - Double(logits[1])) < 1e-4)
    }

    @Test("training state JSON round trips, RNG words above 2^53 included")
    func stateJSON() throws {
        let state = TrainingState(epoch: 3, step: 1234, position: 17, batchSize: 32, optimizer: OptimizerConfig(kind: .adam, learningRate: 0.001),
                                  rngState: [UInt64.max, 1, 1 << 63, 0x1234_5678_9ABC_DEF0], seed: UInt64.max - 1,
                                  history: [EpochRecord(loss: 0.1 + 0.2, trainAccuracy: 1 / 3, testAccuracy: nil)],
                                  dataset: DatasetIdentity(name: "fashion-mnist", trainCount: 60000, fingerprint: "0123456789abcdef"),
                                  epochLossSum: 12.5, epochCorrect: 9)
        let data = try JSONEncoder().encode(state)
        let decoded = try JSONDecoder().decode(TrainingState.self, from: data)
        #expect(decoded == state)
    }
}

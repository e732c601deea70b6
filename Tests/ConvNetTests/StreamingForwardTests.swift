import Testing
@testable import ConvNet

@Suite("Streaming forward pass")
struct StreamingForwardTests {
    /// Architectures covering both conv kernels (channels multiple of 8 or not), padding, pooling, dense
    /// layers with and without bias, output counts not a multiple of 8 and large enough for two workers.
    static let architectures: [Architecture] = [
        .seed,
        Architecture(input: ActivationShape(height: 9, width: 7, channels: 2), kinds: [
            .conv2d(Conv2DSpec(filters: 8, kernel: [3, 3], padding: .same, bias: true)), .relu,
            .maxPool2d(MaxPool2DSpec(pool: [2, 2])),
            .conv2d(Conv2DSpec(filters: 5, kernel: [2, 2], stride: [1, 1], bias: true)), .relu,
            .flatten, .dense(DenseSpec(units: 523, bias: true)), .relu, .dense(DenseSpec(units: 13, bias: false)), .softmax,
        ]),
        Architecture(input: ActivationShape(height: 5, width: 5, channels: 3), kinds: [
            .flatten, .dense(DenseSpec(units: 7, bias: false)),
        ]),
    ]

    @Test("equals Network.predict and layerOutputs bitwise", arguments: 0..<3)
    func equalsPredict(_ which: Int) throws {
        let architecture = Self.architectures[which]
        var network = try Network(architecture: architecture)
        var rng = RandomGenerator(seed: UInt64(which) + 7)
        network.initialize(using: &rng)
        let n = 5
        let inputs = (0..<(n * network.inputCount)).map { _ in Float(rng.next(below: 256)) }
        let parameters = Dictionary(uniqueKeysWithValues: network.parameters.map { ($0.name, $0.tensor) })
        var fetched: [String] = []
        var traces: [Int: [[Float]]] = [:]
        let streamed = try Network.predictStreaming(architecture: architecture, inputs: inputs, parameter: { spec in
            fetched.append(spec.name)
            return parameters[spec.name] ?? Tensor(zeros: spec.shape)
        }, layerOutputs: { traces[$0] = $1 })
        let expected = try network.predict(.floats(inputs))
        #expect(streamed.map(\.bitPattern) == expected.map(\.bitPattern))
        #expect(fetched == network.slots.map(\.spec.name))
        for i in 0..<n {
            let layers = try network.layerOutputs(Array(inputs[(i * network.inputCount)..<((i + 1) * network.inputCount)]))
            for (l, values) in layers.enumerated() {
                #expect(traces[l]?[i].map(\.bitPattern) == values.map(\.bitPattern))
            }
        }
    }

    @Test("a fetched tensor of the wrong shape is named")
    func wrongShape() throws {
        #expect(throws: ConvNetError.shapeMismatch(name: "conv2d.kernel", expected: [3, 3, 1, 16], found: [2])) {
            _ = try Network.predictStreaming(architecture: .seed, inputs: [Float](repeating: 0, count: 784)) { _ in
                Tensor(shape: [2], scalars: [0, 0])
            }
        }
    }
}

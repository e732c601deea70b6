import ConvNet
import Foundation
import ModelArchive

/// Files and folders the test targets share.
public enum TestFiles {
    /// The package root, found from this file's path.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// `Fixtures/keras`: files written by Keras, the scripts that wrote them, and Keras' predictions for each
    /// (``KerasExpectation``).
    public static let kerasFixtures = packageRoot.appendingPathComponent("Fixtures/keras")

    /// A fresh, empty temporary folder for one test, named `cnnkit-<prefix>-<uuid>`.
    public static func temporaryDirectory(prefix: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cnnkit-\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Random model documents for the format round-trip tests: random architectures, values with the bit patterns a
/// lossless format must keep, training states with optimizer slots, probes and metadata.
public enum RandomDocuments {
    /// Float bit patterns a lossless format must keep: NaN payloads (quiet and signalling), both zeros,
    /// subnormals, infinities and extremes.
    public static let specialFloats: [Float] = [
        Float(bitPattern: 0x7FC0_0001), Float(bitPattern: 0xFFC1_2345), Float(bitPattern: 0x7F80_0001), Float(bitPattern: 0x7FBF_FFFF),
        -0.0, 0.0, Float.leastNonzeroMagnitude, -Float.leastNonzeroMagnitude, Float(bitPattern: 0x007F_FFFF),
        .infinity, -.infinity, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNormalMagnitude,
    ]

    /// Random scalars (any bit pattern) with the special values sprinkled in.
    public static func scalars(_ count: Int, rng: inout RandomGenerator) -> [Float] {
        (0..<count).map { _ in
            if rng.next(below: 4) == 0 { return specialFloats[Int(rng.next(below: UInt64(specialFloats.count)))] }
            return Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
        }
    }

    /// A random valid architecture: one or two convolutions, optional relu and pooling, optional hidden dense
    /// layer, a dense output and usually a softmax.
    public static func architecture(rng: inout RandomGenerator) -> Architecture {
        func pick(_ n: Int) -> Int { Int(rng.next(below: UInt64(n))) }
        while true {
            var kinds: [LayerKind] = []
            for _ in 0..<(1 + pick(2)) {
                kinds.append(.conv2d(Conv2DSpec(filters: 1 + pick(4), kernel: [1 + pick(3), 1 + pick(3)], stride: [1 + pick(2), 1 + pick(2)],
                                                padding: pick(2) == 0 ? .valid : .same, bias: pick(2) == 0)))
                if pick(2) == 0 { kinds.append(.relu) }
            }
            if pick(2) == 0 { kinds.append(.maxPool2d(MaxPool2DSpec(pool: [2, 2], padding: pick(2) == 0 ? .valid : .same))) }
            kinds.append(.flatten)
            if pick(2) == 0 {
                kinds.append(.dense(DenseSpec(units: 2 + pick(6), bias: pick(2) == 0)))
                kinds.append(.relu)
            }
            kinds.append(.dense(DenseSpec(units: 2 + pick(4), bias: pick(2) == 0)))
            if pick(4) != 0 { kinds.append(.softmax) }
            let architecture = Architecture(input: ActivationShape(height: 4 + pick(7), width: 4 + pick(7), channels: 1 + pick(3)),
                                            preprocessing: Preprocessing(scale: Float(1 + pick(255)) / 255, offset: -Float(pick(3)) / 4),
                                            kinds: kinds)
            if (try? architecture.validate()) != nil { return architecture }
        }
    }

    /// A random document: weights, and (unless `minimal`) a training state with slots, probes and metadata.
    ///
    /// - Parameter wholePixelsOnEvenSeeds: probe inputs are whole pixels 0-255 on even seeds (formats that store
    ///   them as uint8), arbitrary floats otherwise.
    public static func document(seed: UInt64, minimal: Bool = false, wholePixelsOnEvenSeeds: Bool = false) throws -> ModelDocument {
        var rng = RandomGenerator(seed: seed)
        let architecture = architecture(rng: &rng)
        let specs = try architecture.parameterSpecs()
        let tensors = specs.map { NamedTensor(name: $0.name, tensor: Tensor(shape: $0.shape, scalars: scalars($0.shape.reduce(1, *), rng: &rng))) }
        if minimal { return ModelDocument(architecture: architecture, tensors: tensors) }
        let kind: OptimizerKind = rng.next(below: 2) == 0 ? .sgd : .adam
        let optimizer = OptimizerConfig(kind: kind, learningRate: Float(1 + rng.next(below: 100)) / 1000, momentum: kind == .sgd ? 0.9 : 0,
                                        nesterov: rng.next(below: 2) == 0 && kind == .sgd, beta1: 0.85, beta2: 0.995, epsilon: 1e-6)
        var slots: [NamedTensor] = []
        for spec in specs {
            for slot in optimizer.slotNames {
                slots.append(NamedTensor(name: TrainingState.slotName(parameter: spec.name, slot: slot),
                                         tensor: Tensor(shape: spec.shape, scalars: scalars(spec.shape.reduce(1, *), rng: &rng))))
            }
        }
        let history = (0..<Int(rng.next(below: 4))).map { epoch in
            EpochRecord(loss: Double(rng.nextUnitDouble()) * 3, trainAccuracy: rng.nextUnitDouble(), testAccuracy: epoch % 2 == 0 ? rng.nextUnitDouble() : nil)
        }
        let state = TrainingState(epoch: history.count, step: Int(rng.next(below: 100_000)), position: Int(rng.next(below: 60_000)),
                                  batchSize: 1 + Int(rng.next(below: 64)), optimizer: optimizer, slots: slots,
                                  rngState: (0..<4).map { _ in rng.next() }, seed: rng.next(), history: history,
                                  dataset: DatasetIdentity(name: "fashion-mnist", trainCount: 200, fingerprint: "0123456789abcdef"),
                                  epochLossSum: rng.nextUnitDouble() * 100, epochCorrect: Int(rng.next(below: 1000)))
        let n = 1 + Int(rng.next(below: 3))
        let input = architecture.input
        let outputCount = try architecture.outputShape().count
        let pixels = wholePixelsOnEvenSeeds && seed % 2 == 0
            ? (0..<(n * input.count)).map { _ in Float(rng.next(below: 256)) } : scalars(n * input.count, rng: &rng)
        let probes = Probes(inputs: Tensor(shape: [n, input.height, input.width, input.channels], scalars: pixels),
                            outputs: Tensor(shape: [n, outputCount], scalars: scalars(n * outputCount, rng: &rng)),
                            source: "random:seed=\(seed)")
        return ModelDocument(architecture: architecture, tensors: tensors, trainingState: state, probes: probes,
                             metadata: ["created_by": "cnnkit tests", "seed": "\(seed)", "unicode": "Ünïcödé ✓ \"quoted\"\n\t\u{1}"])
    }
}

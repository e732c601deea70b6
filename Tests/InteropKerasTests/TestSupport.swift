import ConvNet
import Foundation
import ModelArchive
import ZIPFoundation

/// Paths, generators and hand-made archives shared by the Keras tests.
enum TestSupport {
    /// The package root, found from this file's path.
    static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// `Fixtures/keras`.
    static let kerasFixtures = packageRoot.appendingPathComponent("Fixtures/keras")

    /// A fresh, empty temporary folder for one test.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cnnkit-keras-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A zip with the given members, in order, each stored or deflated, written to `url`.
    static func writeZip(_ members: [(name: String, bytes: [UInt8])], to url: URL, compression: CompressionMethod = .none) throws {
        let archive = try Archive(accessMode: .create)
        for member in members {
            let data = Data(member.bytes)
            try archive.addEntry(with: member.name, type: .file, uncompressedSize: Int64(data.count), compressionMethod: compression) { position, size in
                data.subdata(in: Int(position)..<min(Int(position) + size, data.count))
            }
        }
        guard let data = archive.data else { throw CocoaError(.fileWriteUnknown) }
        try data.write(to: url)
    }

    /// The members of a zip as name and bytes.
    static func readZip(_ url: URL) throws -> [(name: String, bytes: [UInt8])] {
        let archive = try Archive(url: url, accessMode: .read)
        return try archive.map { entry in
            var bytes: [UInt8] = []
            _ = try archive.extract(entry) { bytes += $0 }
            return (entry.path, bytes)
        }
    }

    /// The seed architecture with a random document's parts: weights only, nothing else.
    static func seedDocument(seed: UInt64) throws -> ModelDocument {
        var rng = RandomGenerator(seed: seed)
        var network = try Network(architecture: .seed)
        network.initialize(using: &rng)
        return ModelDocument(network: network)
    }

    /// Float bit patterns a lossless format must keep: NaN payloads (quiet and signalling), both zeros,
    /// subnormals, infinities and extremes.
    static let specialFloats: [Float] = [
        Float(bitPattern: 0x7FC0_0001), Float(bitPattern: 0xFFC1_2345), Float(bitPattern: 0x7F80_0001), Float(bitPattern: 0x7FBF_FFFF),
        -0.0, 0.0, Float.leastNonzeroMagnitude, -Float.leastNonzeroMagnitude, Float(bitPattern: 0x007F_FFFF),
        .infinity, -.infinity, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNormalMagnitude,
    ]

    /// Random scalars with the special values sprinkled in.
    static func scalars(_ count: Int, rng: inout RandomGenerator) -> [Float] {
        (0..<count).map { _ in
            if rng.next(below: 4) == 0 { return specialFloats[Int(rng.next(below: UInt64(specialFloats.count)))] }
            return Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
        }
    }

    /// A random valid architecture: one or two convolutions, optional relu and pooling, optional hidden dense
    /// layer, a dense output and usually a softmax.
    static func architecture(rng: inout RandomGenerator) -> Architecture {
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

    /// A random document with every part filled: weights, training state with slots, probes and metadata.
    static func document(seed: UInt64) throws -> ModelDocument {
        var rng = RandomGenerator(seed: seed)
        let architecture = architecture(rng: &rng)
        let specs = try architecture.parameterSpecs()
        let tensors = specs.map { NamedTensor(name: $0.name, tensor: Tensor(shape: $0.shape, scalars: scalars($0.shape.reduce(1, *), rng: &rng))) }
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
        let state = TrainingState(epoch: history.count, step: Int(rng.next(below: 100_000)), position: Int(rng.next(below: 60_000)), batchSize: 1 + Int(rng.next(below: 64)),
                                  optimizer: optimizer, slots: slots, rngState: (0..<4).map { _ in rng.next() }, seed: rng.next(),
                                  history: history, dataset: DatasetIdentity(name: "fashion-mnist", trainCount: 200, fingerprint: "0123456789abcdef"),
                                  epochLossSum: rng.nextUnitDouble() * 100, epochCorrect: Int(rng.next(below: 1000)))
        let n = 1 + Int(rng.next(below: 3))
        let input = architecture.input
        let outputCount = try architecture.outputShape().count
        let probes = Probes(inputs: Tensor(shape: [n, input.height, input.width, input.channels], scalars: scalars(n * input.count, rng: &rng)),
                            outputs: Tensor(shape: [n, outputCount], scalars: scalars(n * outputCount, rng: &rng)),
                            source: "random:seed=\(seed)")
        return ModelDocument(architecture: architecture, tensors: tensors, trainingState: state, probes: probes,
                             metadata: ["created_by": "cnnkit tests", "seed": "\(seed)", "unicode": "Ünïcödé ✓"])
    }
}

/// Expected predictions saved next to a Keras fixture by `Fixtures/keras/make_keras3_fixtures.py`.
struct KerasExpectation: Decodable {
    var input_shape: [Int]
    var inputs: [[Float]]
    var outputs: [[Float]]

    static func load(_ name: String) throws -> KerasExpectation {
        let data = try Data(contentsOf: TestSupport.kerasFixtures.appendingPathComponent("\(name).expected.json"))
        return try JSONDecoder().decode(KerasExpectation.self, from: data)
    }
}

/// ZIPFoundation's archive, opened for reading.
enum ZIPFoundationArchive {
    static func open(_ url: URL) throws -> Archive { try Archive(url: url, accessMode: .read) }
}

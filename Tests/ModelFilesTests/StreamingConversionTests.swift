import ConvNet
import Foundation
import ModelArchive
import Testing
import Verification
@testable import ModelFiles

/// Random small models for the conversion tests: finite weights, probes recorded from the network (or none),
/// optionally a training state with slots.
enum ConversionSupport {
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cnnkit-stream-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func architecture(rng: inout RandomGenerator) -> Architecture {
        func pick(_ n: Int) -> Int { Int(rng.next(below: UInt64(n))) }
        while true {
            var kinds: [LayerKind] = []
            for _ in 0..<(1 + pick(2)) {
                kinds.append(.conv2d(Conv2DSpec(filters: [3, 8, 16][pick(3)], kernel: [1 + pick(3), 1 + pick(3)], stride: [1 + pick(2), 1 + pick(2)],
                                                padding: pick(2) == 0 ? .valid : .same, bias: pick(2) == 0)))
                if pick(2) == 0 { kinds.append(.relu) }
            }
            if pick(2) == 0 { kinds.append(.maxPool2d(MaxPool2DSpec(pool: [2, 2]))) }
            kinds.append(.flatten)
            if pick(2) == 0 {
                kinds.append(.dense(DenseSpec(units: 5 + pick(40), bias: pick(2) == 0)))
                kinds.append(.relu)
            }
            kinds.append(.dense(DenseSpec(units: 2 + pick(9), bias: pick(2) == 0)))
            if pick(4) != 0 { kinds.append(.softmax) }
            let architecture = Architecture(input: ActivationShape(height: 5 + pick(8), width: 5 + pick(8), channels: 1 + pick(3)), kinds: kinds)
            if (try? architecture.validate()) != nil { return architecture }
        }
    }

    /// A document; `probes` false leaves them out (the conversion records them), `state` adds a training state.
    static func document(seed: UInt64, probes: Bool, state: Bool) throws -> ModelDocument {
        var rng = RandomGenerator(seed: seed)
        var network = try Network(architecture: architecture(rng: &rng))
        network.initialize(using: &rng)
        var trainingState: TrainingState?
        if state {
            let kind: OptimizerKind = seed % 2 == 0 ? .sgd : .adam
            let optimizer = OptimizerConfig(kind: kind, learningRate: 0.01, momentum: kind == .sgd ? 0.9 : 0)
            var slots: [NamedTensor] = []
            for slot in network.slots {
                for name in optimizer.slotNames {
                    let count = slot.spec.shape.reduce(1, *)
                    slots.append(NamedTensor(name: TrainingState.slotName(parameter: slot.spec.name, slot: name),
                                             tensor: Tensor(shape: slot.spec.shape, scalars: (0..<count).map { _ in Float(rng.nextGaussian()) })))
                }
            }
            trainingState = TrainingState(step: Int(seed), batchSize: 16, optimizer: optimizer, slots: slots,
                                          rngState: RandomGenerator(seed: seed).state, seed: seed)
        }
        let metadata = ["origin": "test \(seed)"]
        guard probes else { return ModelDocument(network: network, trainingState: trainingState, metadata: metadata) }
        let inputs = Probes.randomInputs(shape: network.shapes[0], count: 3, seed: seed)
        return try ModelDocument.recording(network: network, probeInputs: inputs, source: "test", trainingState: trainingState, metadata: metadata)
    }
}

@Suite("Streaming conversion")
struct StreamingConversionTests {
    /// Input extension, output extension, options.
    static let pairs: [(String, String, SaveOptions)] = [
        ("cnnz", "h5", SaveOptions()),
        ("h5", "cnnz", SaveOptions(compress: true)),
        ("cnnz", "cnnz", SaveOptions(compress: true, dtype: .float16)),
        ("h5", "h5", SaveOptions(compress: true, level: 3)),
        ("h5", "cnnz", SaveOptions(dtype: .bfloat16, weightsOnly: true)),
        ("cnnz", "h5", SaveOptions(compress: true, weightsOnly: true)),
    ]

    @Test("streaming gives the bytes, documents and reports of the in-memory path", arguments: 0..<6, 0..<6)
    func equalsInMemory(seed: Int, pair: Int) throws {
        let (inExt, outExt, save) = Self.pairs[pair]
        let folder = try ConversionSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let document = try ConversionSupport.document(seed: UInt64(seed * 7 + pair), probes: seed % 3 != 0, state: seed % 2 == 0)
        let input = folder.appendingPathComponent("in.\(inExt)").path
        try ModelFiles.save(document, to: input, options: SaveOptions(compress: seed % 2 == 1))
        let streamedPath = folder.appendingPathComponent("streamed.\(outExt)").path
        let memoryPath = folder.appendingPathComponent("memory.\(outExt)").path
        let streamed = try ModelFiles.convert(input, to: streamedPath, options: ConversionOptions(save: save))
        let memory = try ModelFiles.convert(input, to: memoryPath, options: ConversionOptions(save: save, allowStreaming: false))
        #expect(streamed.streamed && !memory.streamed)
        #expect(try ModelFiles.load(streamedPath) == ModelFiles.load(memoryPath))
        #expect(FileManager.default.contents(atPath: streamedPath) == FileManager.default.contents(atPath: memoryPath))
        #expect(streamed.tensorCount == memory.tensorCount && streamed.hadTrainingState == memory.hadTrainingState)
        let a = try #require(streamed.report), b = try #require(memory.report)
        #expect(a.passed && b.passed)
        #expect(a.checks == b.checks)
        #expect(a.comparison == b.comparison)
    }

    @Test("a lossy input converted losslessly reports what the in-memory path reports")
    func lossyInput() throws {
        let folder = try ConversionSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = folder.appendingPathComponent("m.cnnz").path
        try ModelFiles.save(try ConversionSupport.document(seed: 3, probes: true, state: true), to: source)
        let lossy = folder.appendingPathComponent("m16.cnnz").path
        _ = try ModelFiles.convert(source, to: lossy, options: ConversionOptions(save: SaveOptions(dtype: .float16)))
        let a = try ModelFiles.convert(lossy, to: folder.appendingPathComponent("s.h5").path, options: ConversionOptions())
        let b = try ModelFiles.convert(lossy, to: folder.appendingPathComponent("m.h5").path, options: ConversionOptions(allowStreaming: false))
        #expect(a.streamed && !b.streamed)
        #expect(a.report?.checks == b.report?.checks)
        #expect(a.report?.passed == true)
    }

    @Test("a tensor changed after saving fails streamed verification like in-memory verification")
    func corruptedProbes() throws {
        let folder = try ConversionSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        var document = try ConversionSupport.document(seed: 4, probes: true, state: false)
        document.tensors[0].tensor.scalars[0] += 0.5
        let input = folder.appendingPathComponent("in.cnnz").path
        try ModelFiles.save(document, to: input)
        let a = try ModelFiles.convert(input, to: folder.appendingPathComponent("s.h5").path, options: ConversionOptions())
        let b = try ModelFiles.convert(input, to: folder.appendingPathComponent("m.h5").path, options: ConversionOptions(allowStreaming: false))
        #expect(a.report?.passed == false && b.report?.passed == false)
        #expect(a.report?.checks.first { $0.name == "probes" } == b.report?.checks.first { $0.name == "probes" })
        #expect(a.report?.firstDivergingLayer == b.report?.firstDivergingLayer)
        #expect(a.report?.firstDivergingLayer == document.architecture.layers[0].name)
    }

    @Test("streamed probe runs equal Network.predict and ProbeTrace bitwise", arguments: 0..<8)
    func streamedRunEqualsPredict(seed: Int) throws {
        let document = try ConversionSupport.document(seed: UInt64(100 + seed), probes: true, state: false)
        let network = try document.network()
        let probes = try #require(document.probes)
        let run = try Verifier.run(StreamedModel(document: document), inputs: probes.inputs)
        #expect(run.outputs.map(\.bitPattern) == (try network.predict(.floats(probes.inputs.scalars))).map(\.bitPattern))
        #expect(run.trace == (try ProbeTrace(network: network, inputs: probes.inputs)))
        #expect(run.valueCounts.map(\.name) == network.slots.map(\.spec.name))
    }
}

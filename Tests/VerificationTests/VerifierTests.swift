import CNNKitTestSupport
import ConvNet
import ModelArchive
import Testing
@testable import Verification

@Suite("Verifier")
struct VerifierTests {
    /// A seed network with random weights and 4 recorded probes.
    func recorded(seed: UInt64 = 1) throws -> ModelDocument {
        var network = try Network(architecture: .seed)
        var rng = RandomGenerator(seed: seed)
        network.initialize(using: &rng)
        let inputs = Probes.randomInputs(shape: network.shapes[0], count: 4, seed: seed)
        return try ModelDocument.recording(network: network, probeInputs: inputs, source: "random:seed=\(seed)")
    }

    func nudged(_ document: ModelDocument, tensor: String, by delta: Float) -> ModelDocument {
        var copy = document
        for i in copy.tensors.indices where copy.tensors[i].name == tensor {
            var t = copy.tensors[i].tensor
            let j = t.scalars.indices.max { abs(t.scalars[$0]) < abs(t.scalars[$1]) } ?? 0
            t.scalars[j] += delta
            copy.tensors[i].tensor = t
        }
        return copy
    }

    @Test("an untouched model passes every check with max error 0")
    func untouched() throws {
        let report = Verifier.verify(document: try recorded(), path: "m", format: "test", parseDetail: "in memory")
        #expect(report.passed)
        #expect(report.checks.map(\.name) == ["parse", "digests", "architecture", "finite", "probes"])
        #expect(report.checks.allSatisfy { $0.status == ($0.name == "digests" ? .skip : .pass) })
        #expect(report.checks[1].detail.hasPrefix("no digest: stored values unchecked"))
        #expect(report.comparison?.maxAbsError == 0)
    }

    @Test("a changed kernel fails the probes and names the first diverging layer", arguments: [
        ("conv2d.kernel", "conv2d"), ("dense.kernel", "dense"), ("dense.bias", "dense"),
    ])
    func changedKernel(tensor: String, layer: String) throws {
        let report = Verifier.verify(document: nudged(try recorded(), tensor: tensor, by: 0.5), path: "m", format: "test", parseDetail: "in memory")
        #expect(!report.passed)
        #expect(report.checks.first { $0.name == "probes" }?.status == .fail)
        #expect(report.firstDivergingLayer == layer)
    }

    @Test("a NaN weight fails the finite check naming the tensor")
    func nonFinite() throws {
        var document = try recorded()
        document.tensors[0].tensor.scalars[3] = .nan
        let report = Verifier.verify(document: document, path: "m", format: "test", parseDetail: "in memory")
        let finite = try #require(report.checks.first { $0.name == "finite" })
        #expect(finite.status == .fail && finite.detail.hasPrefix("conv2d.kernel: 1 of 144 values"))
    }

    @Test("a model without the architecture's tensors fails the architecture check and stops there")
    func missingTensor() throws {
        var document = try recorded()
        document.tensors.removeLast()
        let report = Verifier.verify(document: document, path: "m", format: "test", parseDetail: "in memory")
        #expect(report.checks.map(\.name) == ["parse", "digests", "architecture"])
        #expect(report.checks[2].detail.contains("dense.bias"))
    }

    @Test("--against: equal models agree exactly; a changed one fails beyond tolerance and is located")
    func against() throws {
        let a = try recorded()
        let same = Verifier.verify(document: a, path: "a", format: "test", parseDetail: "", options: VerifyOptions(against: (a, "b")))
        #expect(same.passed && same.checks.last?.name == "against" && same.comparison?.maxAbsError == 0)

        let b = nudged(a, tensor: "dense.kernel", by: 0.25)
        let differs = Verifier.verify(document: a, path: "a", format: "test", parseDetail: "", options: VerifyOptions(against: (b, "b")))
        #expect(!differs.passed && differs.checks.last?.status == .fail)
        #expect(differs.firstDivergingLayer == "dense")

        let loose = Verifier.verify(document: a, path: "a", format: "test", parseDetail: "",
                                    options: VerifyOptions(tolerance: Tolerance(atol: 1, rtol: 0), against: (b, "b")))
        #expect(loose.passed)
    }

    @Test("the streamed run gives the outputs predict gives, bitwise, and the trace ProbeTrace records")
    func streamedRun() throws {
        for seed in UInt64(0)..<6 {
            let document = try RandomDocuments.document(seed: seed)
            guard let probes = document.probes else { continue }
            let network = try document.network()
            let run = try Verifier.run(StreamedModel(document: document), inputs: probes.inputs)
            #expect(run.outputs.map(\.bitPattern) == (try network.predict(.floats(probes.inputs.scalars))).map(\.bitPattern))
            #expect(run.trace.jsonString() == (try ProbeTrace(network: network, inputs: probes.inputs)).jsonString())
        }
    }

    @Test("a lossy file's recorded bound is the default tolerance")
    func recordedBound() throws {
        var document = try recorded()
        document.metadata[Verifier.atolKey] = "0.5"
        document.metadata[Verifier.rtolKey] = "0"
        #expect(Verifier.recordedTolerance(document.metadata) == Tolerance(atol: 0.5, rtol: 0))
        let report = Verifier.verify(document: nudged(document, tensor: "dense.bias", by: 1e-4), path: "m", format: "test", parseDetail: "")
        #expect(report.passed && report.comparison?.tolerance == Tolerance(atol: 0.5, rtol: 0))
    }

    @Test("the pass rule is |a - b| <= atol + rtol * |b|, NaN only equal to itself")
    func passRule() {
        let t = Tolerance(atol: 0.1, rtol: 0.5)
        #expect(t.accepts(1.0, 0.5) == false && t.accepts(0.75, 0.5))
        #expect(Tolerance.exact.accepts(.nan, .nan) && !Tolerance.exact.accepts(.nan, 1))
        #expect(!Tolerance(atol: 1e9).accepts(.infinity, 1))
    }

    /// A recorded model with its digests in the metadata, as every writer records them.
    func digested(_ document: ModelDocument) throws -> ModelDocument {
        var copy = document
        copy.metadata[TensorDigests.metadataKey] = try TensorDigests.compute(StreamedModel(document: document)).jsonString()
        return copy
    }

    @Test("recorded digests are checked first and pass on an untouched model")
    func digestsPass() throws {
        let report = Verifier.verify(document: try digested(try recorded()), path: "m", format: "test", parseDetail: "")
        let digests = try #require(report.checks.first { $0.name == "digests" })
        #expect(report.passed && digests.status == .pass && report.checks[1].name == "digests")
        #expect(digests.detail == "SHA-256 of 5 tensors and the architecture match the digests recorded at save time")
    }

    @Test("one changed value in any tensor fails the digests check naming the tensor, even when the probes still pass",
          arguments: ["conv2d.kernel", "dense.kernel", "dense.bias"])
    func digestsCatchAnyChange(tensor: String) throws {
        var document = try digested(try recorded())
        let i = try #require(document.tensors.firstIndex { $0.name == tensor })
        // The smallest change there is: one ulp of one value.
        document.tensors[i].tensor.scalars[0] = document.tensors[i].tensor.scalars[0].nextUp
        let report = Verifier.verify(document: document, path: "m", format: "test", parseDetail: "")
        let digests = try #require(report.checks.first { $0.name == "digests" })
        #expect(!report.passed && digests.status == .fail && digests.detail.hasPrefix("tensor \(tensor): SHA-256 of its values is"))
    }

    @Test("a changed optimizer slot, training-state scalar, probe or architecture fails the digests check")
    func digestsCatchTheRest() throws {
        var network = try Network(architecture: .seed)
        var rng = RandomGenerator(seed: 3)
        network.initialize(using: &rng)
        var trainer = try Trainer(network: network, state: TrainingState(batchSize: 1, optimizer: OptimizerConfig(kind: .adam, learningRate: 0.001),
                                                                        rngState: RandomGenerator(seed: 0).state, seed: 0))
        let data = Dataset(images: (0..<(8 * 784)).map { UInt8($0 % 251) }, labels: (0..<8).map { UInt8($0 % 10) }, height: 28, width: 28)
        try trainer.train(on: data, epochs: 1)
        let inputs = Probes.randomInputs(shape: trainer.network.shapes[0], count: 2, seed: 1)
        let base = try digested(try ModelDocument.recording(network: trainer.network, probeInputs: inputs, source: "random",
                                                            trainingState: trainer.state))
        func failure(_ change: (inout ModelDocument) -> Void) -> String? {
            var copy = base
            change(&copy)
            let report = Verifier.verify(document: copy, path: "m", format: "test", parseDetail: "")
            return report.checks.first { $0.name == "digests" && $0.status == .fail }?.detail
        }
        #expect(failure { _ in } == nil)
        #expect(failure { document in
            guard var state = document.trainingState else { return }
            state.slots[1].tensor.scalars[0] = state.slots[1].tensor.scalars[0].nextUp
            document.trainingState = state
        }?.hasPrefix("tensor optimizer.conv2d.kernel.") == true)
        #expect(failure { $0.trainingState?.step += 1 }?.hasPrefix("training state: SHA-256 of its scalars") == true)
        #expect(failure { $0.probes?.inputs.scalars[5] += 1 }?.hasPrefix("tensor probes.inputs") == true)
        #expect(failure { $0.architecture.preprocessing.offset = 0 }?.hasPrefix("architecture: SHA-256") == true)
        #expect(failure { $0.metadata[TensorDigests.metadataKey] = "{\"algorithm\": \"md5\"}" }?.contains("not a digest record") == true)
    }
}

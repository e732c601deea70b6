import Foundation
import Testing
@testable import ConvNet

/// Training that stops rather than produce unusable weights, and settings an optimizer would ignore.
@Suite("Training safety")
struct TrainingSafetyTests {
    @Test("a non-finite loss stops training at that step, before applying it, naming step, epoch and examples")
    func divergence() throws {
        let train = try fashion(.train, 64)
        var trainer = try Trainer(architecture: .seed, optimizer: OptimizerConfig(learningRate: 1e30), batchSize: 8, seed: 5)
        var lastFinished: Trainer.Snapshot?
        var thrown: ConvNetError?
        do {
            try trainer.train(on: train, epochs: 1, control: { _, snapshot in
                lastFinished = snapshot()
                return .proceed
            })
        } catch let error as ConvNetError {
            thrown = error
        }
        let error = try #require(thrown, "lr 1e30 must diverge within 8 steps")
        guard case let .diverged(step, epoch, examples, epochSize, _) = error else {
            Issue.record("expected .diverged, got \(error)")
            return
        }
        #expect(epoch == 1 && epochSize == 64)
        #expect(examples == ((step - 1) * 8 + 1)...(step * 8))
        #expect(error.description.contains("step \(step)") && error.description.contains("not finite"))
        // The trainer holds the last finished step, not the one whose loss was NaN.
        #expect(trainer.state.step == step - 1)
        #expect(trainer.state.position == (step - 1) * 8)
        if let lastFinished {
            #expect(lastFinished.state.step == trainer.state.step)
            #expect(lastFinished.network.flatParameters.map(\.bitPattern) == trainer.network.flatParameters.map(\.bitPattern))
        }
    }

    @Test("a sane learning rate never trips the check")
    func noFalseAlarm() throws {
        var trainer = try Trainer(architecture: .seed, optimizer: OptimizerConfig(learningRate: 0.005), batchSize: 4, seed: 1)
        #expect(try trainer.train(on: try fashion(.train, 40), epochs: 1))
    }

    @Test("Adam refuses --momentum and --nesterov, fresh and resumed; SGD takes them")
    func adamMomentum() throws {
        let identity = DatasetIdentity(name: "t", trainCount: 1, fingerprint: "f")
        for overrides in [TrainingOverrides(optimizer: .adam, momentum: 0.9), TrainingOverrides(optimizer: .adam, nesterov: true)] {
            #expect(throws: ConvNetError.self) { try Trainer(architecture: .seed, overrides: overrides, dataset: identity) }
        }
        let adam = try Trainer(architecture: .seed, overrides: TrainingOverrides(optimizer: .adam), dataset: identity)
        #expect(throws: ConvNetError.self) {
            try Trainer(resuming: adam.network, state: adam.state, overrides: TrainingOverrides(momentum: 0.5), dataset: identity)
        }
        _ = try Trainer(architecture: .seed, overrides: TrainingOverrides(momentum: 0.9, nesterov: true), dataset: identity)
    }
}

/// `Architecture.decode(json:strict:)`: every rule of Schemas/architecture.schema.json.
@Suite("Architecture schema")
struct ArchitectureSchemaTests {
    static let base = #"{"input": {"height": 28, "width": 28, "channels": 1}, "layers": [LAYER, {"type": "maxpool2d"}, {"type": "flatten"}, {"type": "dense", "units": 10}, {"type": "softmax"}]}"#

    func reason(_ layer: String, strict: Bool = true) -> String? {
        let json = Self.base.replacingOccurrences(of: "LAYER", with: layer)
        do {
            _ = try Architecture.decode(json: Data(json.utf8), strict: strict)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("an unknown key is refused with its path and the closest known key")
    func unknownKey() throws {
        let message = try #require(reason(#"{"type": "conv2d", "filters": 4, "kernal": [5, 5]}"#))
        #expect(message.contains("at layers[0].kernal: unknown key 'kernal' for a conv2d layer; did you mean 'kernel'?"), "\(message)")
        // The lenient decoder (model files' readers) still ignores it.
        #expect(reason(#"{"type": "conv2d", "filters": 4, "kernal": [5, 5]}"#, strict: false) == nil)
    }

    @Test("other rules the decoder lets through or words poorly", arguments: [
        (#"{"type": "conv2d", "filters": 4, "name": ""}"#, "layers[0].name: must not be empty"),
        (#"{"type": "conv2d", "filters": 4, "kernel": [5]}"#, "layers[0].kernel: must be 2 integers"),
        (#"{"type": "conv2d", "filters": 4, "kernel": [5, 0]}"#, "layers[0].kernel: must be 2 integers"),
        (#"{"type": "conv2d", "filters": 4.5}"#, "layers[0].filters: must be an integer of 1 or more, found 4.5"),
        (#"{"type": "conv2d", "filters": 4, "bias": 1}"#, "layers[0].bias: must be true or false, found 1"),
        (#"{"type": "conv2d", "filters": 4, "padding": "full"}"#, "layers[0].padding: must be \"valid\" or \"same\""),
        (#"{"type": "conv2d"}"#, "layers[0]: missing key 'filters'"),
        (#"{"type": "conv3d", "filters": 4}"#, "layers[0].type: unknown layer type \"conv3d\""),
        (#"{"type": "relu", "units": 3}"#, "unknown key 'units' for a relu layer"),
    ])
    func rules(layer: String, expected: String) throws {
        let message = try #require(reason(layer))
        #expect(message.contains(expected), "\(message)")
    }

    @Test("the closest key is offered only when it is close")
    func suggestions() {
        #expect(SchemaChecker.closest(to: "kernal", in: ["kernel", "stride"]) == "kernel")
        #expect(SchemaChecker.closest(to: "Layers", in: ["layers", "input"]) == "layers")
        #expect(SchemaChecker.closest(to: "zzzzzzzz", in: ["kernel", "stride"]) == nil)
    }

    @Test("what the encoder writes passes the strict check")
    func roundTrip() throws {
        let arch = try Architecture.decode(json: Data(Architecture.seed.jsonString().utf8), strict: true)
        #expect(arch == .seed)
    }
}

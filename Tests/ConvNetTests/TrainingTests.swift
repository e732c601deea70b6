import Foundation
import Testing
@testable import ConvNet
import Datasets

/// Fashion-MNIST is installed by `make test` (apt package dataset-fashion-mnist).
func fashion(_ split: FashionMNIST.Split, _ limit: Int) throws -> Dataset {
    try FashionMNIST.load(split: split, limit: limit)
}

let smallArchitecture = Architecture(input: .init(height: 28, width: 28, channels: 1), kinds: [
    .conv2d(Conv2DSpec(filters: 8, kernel: [3, 3], stride: [2, 2], bias: true)), .relu,
    .conv2d(Conv2DSpec(filters: 16, kernel: [3, 3], padding: .same, bias: true)), .relu,
    .maxPool2d(MaxPool2DSpec()), .flatten, .dense(DenseSpec(units: 10)), .softmax,
])

/// Real channel counts (32, 64, 128) at a small cost: strided convolutions shrink the 28x28 images quickly.
let wideArchitecture = Architecture(input: .init(height: 28, width: 28, channels: 1), kinds: [
    .conv2d(Conv2DSpec(filters: 32, kernel: [3, 3], stride: [2, 2], bias: true)), .relu,
    .conv2d(Conv2DSpec(filters: 64, kernel: [3, 3], stride: [2, 2], padding: .same, bias: true)), .relu,
    .conv2d(Conv2DSpec(filters: 128, kernel: [3, 3], stride: [2, 2], bias: true)), .relu,
    .maxPool2d(MaxPool2DSpec()), .flatten, .dense(DenseSpec(units: 10)), .softmax,
])

@Suite("Training")
struct TrainingTests {
    @Test("training on 2,000 images lowers the loss and beats 70% on 1,000 test images")
    func learns() throws {
        let train = try fashion(.train, 2000), test = try fashion(.test, 1000)
        var trainer = try Trainer(architecture: .seed, optimizer: OptimizerConfig(learningRate: 0.005), batchSize: 1, seed: 0)
        let before = try trainer.network.accuracy(on: test)
        var firstLosses: [Double] = []
        try trainer.train(on: train, test: test, epochs: 2, control: { p, _ in
            if p.position == 200 && p.epoch == 0 { firstLosses.append(p.runningLoss) }
            return .proceed
        })
        let history = trainer.state.history
        #expect(history.count == 2)
        #expect(history[1].loss < history[0].loss)
        #expect(history[0].loss < firstLosses[0])
        let accuracy = try #require(history.last?.testAccuracy)
        #expect(accuracy > 0.70, "test accuracy \(accuracy), before training \(before)")
    }

    @Test("weights are bitwise the same for 1 and 2 threads", arguments: [(OptimizerKind.sgd, 8), (.adam, 13), (.sgd, 1)])
    func threadIndependence(kind: OptimizerKind, batch: Int) throws {
        let train = try fashion(.train, 300)
        var results: [[Float]] = []
        for threads in [1, 2] {
            var trainer = try Trainer(architecture: smallArchitecture, optimizer: OptimizerConfig(kind: kind, learningRate: 0.01, momentum: kind == .sgd ? 0.9 : 0),
                                      batchSize: batch, seed: 7, threads: threads)
            try trainer.train(on: train, epochs: 1)
            results.append(trainer.network.flatParameters)
        }
        #expect(results[0].map(\.bitPattern) == results[1].map(\.bitPattern))
    }

    @Test("32, 64 and 128 channels: weights are bitwise the same for 1 and 2 threads, and a resumed run ends as an uninterrupted one",
          arguments: [(OptimizerKind.sgd, 8), (.adam, 5), (.adam, 1)])
    func wideChannels(kind: OptimizerKind, batch: Int) throws {
        let train = try fashion(.train, 40)
        let config = OptimizerConfig(kind: kind, learningRate: 0.01, momentum: kind == .sgd ? 0.9 : 0)
        var results: [[Float]] = []
        for threads in [1, 2] {
            var trainer = try Trainer(architecture: wideArchitecture, optimizer: config, batchSize: batch, seed: 5, threads: threads)
            try trainer.train(on: train, epochs: 1)
            results.append(trainer.network.flatParameters)
        }
        #expect(results[0].map(\.bitPattern) == results[1].map(\.bitPattern))

        var first = try Trainer(architecture: wideArchitecture, optimizer: config, batchSize: batch, seed: 5, threads: 2)
        #expect(try !first.train(on: train, epochs: 1, control: { p, _ in p.position >= 20 ? .stop : .proceed }))
        let network = try Network(architecture: wideArchitecture, parameters: first.network.parameters)
        var second = try Trainer(network: network, state: first.state, threads: 1)
        try second.train(on: train, epochs: 1)
        #expect(second.network.flatParameters.map(\.bitPattern) == results[0].map(\.bitPattern))
    }

    @Test("stopping mid-epoch and resuming from a snapshot gives the weights of an uninterrupted run",
          arguments: [OptimizerKind.sgd, .adam])
    func resume(kind: OptimizerKind) throws {
        let train = try fashion(.train, 250)
        let config = OptimizerConfig(kind: kind, learningRate: 0.01, momentum: kind == .sgd ? 0.5 : 0, nesterov: kind == .sgd)
        var straight = try Trainer(architecture: smallArchitecture, optimizer: config, batchSize: 16, seed: 3, threads: 2)
        try straight.train(on: train, epochs: 2)

        var first = try Trainer(architecture: smallArchitecture, optimizer: config, batchSize: 16, seed: 3, threads: 1)
        let finished = try first.train(on: train, epochs: 2, control: { p, _ in
            p.epoch == 1 && p.position >= 96 ? .stop : .proceed
        })
        #expect(!finished)
        #expect(first.state.position == 96 && first.state.epoch == 1)
        // Resume from copies of the saved values, as a file round trip would give them.
        let network = try Network(architecture: smallArchitecture, parameters: first.network.parameters)
        var second = try Trainer(network: network, state: first.state, threads: 2)
        try second.train(on: train, epochs: 2)
        #expect(second.network.flatParameters.map(\.bitPattern) == straight.network.flatParameters.map(\.bitPattern))
        #expect(second.state == straight.state)
    }

    @Test("one epoch records a curve point every few steps; the last one is the epoch's history entry")
    func curve() throws {
        let train = try fashion(.train, 300)
        var trainer = try Trainer(architecture: smallArchitecture, optimizer: OptimizerConfig(learningRate: 0.01), batchSize: 4, seed: 1)
        try trainer.train(on: train, epochs: 1)
        let curve = trainer.state.curve
        // 75 steps, a point every 75 / 50 = 1 step.
        #expect(Trainer.curveInterval(epochSize: 300, batchSize: 4) == 1)
        #expect(curve.count == 75)
        #expect(curve.map(\.step) == Array(1...75))
        #expect(curve.last?.examples == 300 && curve.last?.epoch == 1)
        #expect(curve.last?.loss == trainer.state.history[0].loss)
        #expect(curve.last?.accuracy == trainer.state.history[0].trainAccuracy)
        #expect(Trainer.curveInterval(epochSize: 60000, batchSize: 1) == 1200)
        #expect(Trainer.curveInterval(epochSize: 10, batchSize: 32) == 1)

        // The state's JSON carries the curve; JSON without one (files written before curves) reads as empty.
        let json = try JSONEncoder().encode(trainer.state)
        var decoded = try JSONDecoder().decode(TrainingState.self, from: json)
        #expect(decoded.curve == curve)
        var object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        object["curve"] = nil
        decoded = try JSONDecoder().decode(TrainingState.self, from: try JSONSerialization.data(withJSONObject: object))
        #expect(decoded.curve.isEmpty)
        decoded.curve = []
        #expect(!String(decoding: try JSONEncoder().encode(decoded), as: UTF8.self).contains("curve"))
    }

    @Test("a state whose slots do not fit the network is refused")
    func badSlots() throws {
        var trainer = try Trainer(architecture: .seed, optimizer: OptimizerConfig(kind: .adam, learningRate: 0.001), batchSize: 4, seed: 0)
        trainer.state.slots[0].tensor = Tensor(zeros: [1, 2])
        #expect(throws: ConvNetError.self) { try Trainer(network: trainer.network, state: trainer.state) }
    }
}

@Suite("Random generator")
struct RandomGeneratorTests {
    @Test("xoshiro256** seeded by SplitMix64 matches an independent implementation")
    func knownValues() {
        var rng = RandomGenerator(seed: 0)
        #expect([rng.next(), rng.next(), rng.next()] == [0x99EC_5F36_CB75_F2B4, 0xBF6E_1F78_4956_452A, 0x1A5F_849D_4933_E6E0])
    }

    @Test("bounded draws stay in range and shuffles are permutations")
    func bounded() {
        var rng = RandomGenerator(seed: 42)
        for bound in [1, 2, 3, 10, 1000] as [UInt64] {
            for _ in 0..<200 { #expect(rng.next(below: bound) < bound) }
        }
        var a = Array(0..<100)
        rng.shuffle(&a)
        #expect(a.sorted() == Array(0..<100))
        #expect(a != Array(0..<100))
    }

    @Test("a saved state resumes the same sequence; an all-zero state is refused")
    func state() throws {
        var a = RandomGenerator(seed: 9)
        _ = a.next()
        var b = try RandomGenerator(state: a.state)
        #expect(a.next() == b.next())
        #expect(throws: ConvNetError.self) { try RandomGenerator(state: [0, 0, 0, 0]) }
        #expect(throws: ConvNetError.self) { try RandomGenerator(state: [1, 2]) }
    }
}

import ConvNet
import Datasets
import Foundation

// Training and inference throughput of the seed architecture on Fashion-MNIST, release build.
// Usage: cnnkit-bench [--images N] [--threads T] [--json]
// Prints images/s for training at batch 1 and batch 32 (plain SGD, lr 0.005) and for inference.

let arguments = CommandLine.arguments
func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let v = Int(arguments[i + 1]) else { return fallback }
    return v
}
let images = option("--images", 20000)
let threads = option("--threads", ProcessInfo.processInfo.activeProcessorCount)
let json = arguments.contains("--json")

let data: Dataset
do {
    data = try FashionMNIST.load(split: .train, limit: images)
} catch {
    FileHandle.standardError.write(Data("cnnkit-bench: \(error)\n".utf8))
    exit(66)
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }

func trainRate(batch: Int) throws -> Double {
    var trainer = try Trainer(architecture: .seed, optimizer: OptimizerConfig(kind: .sgd, learningRate: 0.005), batchSize: batch, seed: 0, threads: threads)
    let clock = ContinuousClock()
    let start = clock.now
    try trainer.train(on: data, epochs: 1)
    return Double(data.count) / seconds(clock.now - start)
}

func inferenceRate() throws -> Double {
    var network = try Network(architecture: .seed)
    var rng = RandomGenerator(seed: 0)
    network.initialize(using: &rng)
    let clock = ContinuousClock()
    let start = clock.now
    _ = try network.predict(.bytes(data.images), threads: threads)
    return Double(data.count) / seconds(clock.now - start)
}

do {
    _ = try trainRate(batch: 32) // warm-up
    let b1 = try trainRate(batch: 1)
    let b32 = try trainRate(batch: 32)
    let inference = try inferenceRate()
    if json {
        print("{\"system\": \"cnnkit\", \"threads\": \(threads), \"images\": \(data.count), \"train_b1\": \(b1), \"train_b32\": \(b32), \"inference\": \(inference)}")
    } else {
        print(String(format: "cnnkit  threads %d  train b1 %.0f img/s  train b32 %.0f img/s  inference %.0f img/s", threads, b1, b32, inference))
    }
} catch {
    FileHandle.standardError.write(Data("cnnkit-bench: \(error)\n".utf8))
    exit(70)
}

@_spi(Benchmarks) import ConvNet
import Datasets
import Foundation

// Training and inference throughput of a network on Fashion-MNIST, release build.
// Usage: cnnkit-bench [--network seed|two-conv|wide] [--images N] [--threads T] [--json]
//        cnnkit-bench --kernels        GFLOP/s of the convolution products alone (one thread)
// Prints images/s for training at batch 1 and batch 32 and for inference (batch 1000 in the Python scripts;
// CNNKit's predict takes the whole set). The recipe is the network's in Benchmarks/README.md: the seed trains
// with plain SGD (lr 0.005), two-conv and wide with Adam (lr 0.001).

let arguments = CommandLine.arguments
func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let v = Int(arguments[i + 1]) else { return fallback }
    return v
}
func stringOption(_ name: String, _ fallback: String) -> String {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return fallback }
    return arguments[i + 1]
}
func fail(_ message: String, _ code: Int32) -> Never {
    FileHandle.standardError.write(Data("cnnkit-bench: \(message)\n".utf8))
    exit(code)
}

let images = option("--images", 20000)
let threads = option("--threads", ProcessInfo.processInfo.activeProcessorCount)
let json = arguments.contains("--json")
let networkName = stringOption("--network", "seed")

/// conv(filters) - relu - pool, twice, then dense(units) - relu - dense 10 - softmax.
func twoConv(_ c1: Int, _ c2: Int, _ units: Int) -> Architecture {
    Architecture(input: .init(height: 28, width: 28, channels: 1), kinds: [
        .conv2d(Conv2DSpec(filters: c1, kernel: [3, 3], bias: true)), .relu, .maxPool2d(MaxPool2DSpec()),
        .conv2d(Conv2DSpec(filters: c2, kernel: [3, 3], bias: true)), .relu, .maxPool2d(MaxPool2DSpec()),
        .flatten, .dense(DenseSpec(units: units)), .relu, .dense(DenseSpec(units: 10)), .softmax,
    ])
}

if arguments.contains("--kernels") {
    // The convolutions of the seed, two-conv and wide.
    for (size, cin, cout) in [(28, 1, 16), (28, 1, 32), (13, 32, 64), (28, 1, 64), (13, 64, 128)] {
        do {
            let t = try KernelBenchmark.convolution(height: size, width: size, inChannels: cin, outChannels: cout)
            let flop = 2 * Double(t.multiplyAdds)
            print(String(format: "conv %dx%dx%d -> %d (3x3): forward %.1f, kernel gradient %.1f, input gradient %.1f GFLOP/s (one thread)",
                         size, size, cin, cout, flop / t.forward / 1e9, flop / t.weightGradient / 1e9, flop / t.inputGradient / 1e9))
        } catch {
            fail("\(error)", 70)
        }
    }
    exit(0)
}

let architecture: Architecture
let optimizer: OptimizerConfig
switch networkName {
case "seed": architecture = .seed; optimizer = OptimizerConfig(kind: .sgd, learningRate: 0.005)
case "two-conv": architecture = twoConv(32, 64, 128); optimizer = OptimizerConfig(kind: .adam, learningRate: 0.001)
case "wide": architecture = twoConv(64, 128, 256); optimizer = OptimizerConfig(kind: .adam, learningRate: 0.001)
default: fail("unknown network '\(networkName)' (seed, two-conv, wide)", 64)
}

let data: Dataset
do {
    data = try FashionMNIST.load(split: .train, limit: images)
} catch {
    fail("\(error)", 66)
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }

func trainRate(batch: Int, on data: Dataset) throws -> Double {
    var trainer = try Trainer(architecture: architecture, optimizer: optimizer, batchSize: batch, seed: 0, threads: threads)
    let clock = ContinuousClock()
    let start = clock.now
    try trainer.train(on: data, epochs: 1)
    return Double(data.count) / seconds(clock.now - start)
}

func inferenceRate() throws -> Double {
    var network = try Network(architecture: architecture)
    var rng = RandomGenerator(seed: 0)
    network.initialize(using: &rng)
    let clock = ContinuousClock()
    let start = clock.now
    _ = try network.predict(.bytes(data.images), threads: threads)
    return Double(data.count) / seconds(clock.now - start)
}

do {
    _ = try trainRate(batch: 32, on: data.prefix(2000)) // warm-up
    let b1 = try trainRate(batch: 1, on: data)
    let b32 = try trainRate(batch: 32, on: data)
    let inference = try inferenceRate()
    if json {
        print("{\"system\": \"cnnkit\", \"network\": \"\(networkName)\", \"threads\": \(threads), \"images\": \(data.count), \"train_b1\": \(b1), \"train_b32\": \(b32), \"inference\": \(inference)}")
    } else {
        print(String(format: "cnnkit  %@  threads %d  train b1 %.0f img/s  train b32 %.0f img/s  inference %.0f img/s", networkName, threads, b1, b32, inference))
    }
} catch {
    fail("\(error)", 70)
}

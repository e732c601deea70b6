import Foundation
import Testing
@testable import ConvNet

/// Architectures covering every layer and option: strides, paddings, channels, biases, stacking.
struct GradientCase: CustomStringConvertible, Sendable {
    var name: String
    var architecture: Architecture
    var description: String { name }
}

let gradientCases: [GradientCase] = [
    GradientCase(name: "seed-like 8x8", architecture: Architecture(input: .init(height: 8, width: 8, channels: 1), kinds: [
        .conv2d(Conv2DSpec(filters: 16)), .maxPool2d(MaxPool2DSpec()), .flatten, .dense(DenseSpec(units: 4)), .softmax])),
    GradientCase(name: "odd filters, bias, relu, same padding, stride 2", architecture: Architecture(input: .init(height: 7, width: 9, channels: 2), kinds: [
        .conv2d(Conv2DSpec(filters: 5, kernel: [3, 2], stride: [2, 2], padding: .same, bias: true)), .relu,
        .maxPool2d(MaxPool2DSpec(pool: [2, 2])), .flatten, .dense(DenseSpec(units: 3)), .softmax])),
    GradientCase(name: "two conv layers (fast path), relu, bias", architecture: Architecture(input: .init(height: 10, width: 11, channels: 3), kinds: [
        .conv2d(Conv2DSpec(filters: 8, kernel: [3, 3], bias: true)), .relu,
        .conv2d(Conv2DSpec(filters: 16, kernel: [2, 3], stride: [1, 2], padding: .same, bias: true)), .relu,
        .maxPool2d(MaxPool2DSpec(pool: [3, 2], stride: [2, 2])), .flatten, .dense(DenseSpec(units: 5, bias: false)), .softmax])),
    GradientCase(name: "wide conv 24 channels stride 2 valid, same pooling", architecture: Architecture(input: .init(height: 9, width: 9, channels: 1), kinds: [
        .conv2d(Conv2DSpec(filters: 24, kernel: [3, 3], stride: [2, 2], bias: true)),
        .maxPool2d(MaxPool2DSpec(pool: [2, 2], padding: .same)), .flatten, .dense(DenseSpec(units: 3)), .softmax])),
    GradientCase(name: "32, 64 and 128 channels (GEMM panels, edge tiles, depth 576)", architecture: Architecture(input: .init(height: 5, width: 5, channels: 2), kinds: [
        .conv2d(Conv2DSpec(filters: 32, kernel: [3, 3], padding: .same, bias: true)), .relu,
        .conv2d(Conv2DSpec(filters: 64, kernel: [3, 3], bias: true)), .relu,
        .conv2d(Conv2DSpec(filters: 128, kernel: [3, 3], bias: true)), .relu, .flatten, .dense(DenseSpec(units: 4)), .softmax])),
    GradientCase(name: "dense only with two hidden layers", architecture: Architecture(input: .init(height: 3, width: 4, channels: 2), kinds: [
        .flatten, .dense(DenseSpec(units: 7)), .relu, .dense(DenseSpec(units: 6)), .softmax])),
]

@Suite("Layer gradients against float64 central finite differences")
struct LayerGradientTests {
    /// Our gradients are float32; the reference loss is float64. The float32 forward/backward carries relative
    /// rounding of about 1e-7 per operation over sums of at most a few hundred terms, hence the tolerance 2e-5
    /// absolute + 2e-4 relative (a kernel gradient off by 0.1% fails it).
    @Test("every parameter's gradient matches finite differences", arguments: gradientCases)
    func parameterGradients(_ c: GradientCase) throws {
        var r = TestRandom(UInt64(c.name.utf8.count))
        var network = try Network(architecture: c.architecture)
        network.randomize(&r)
        let pixels = r.pixels(network.inputCount)
        let label = r.int(0...(network.outputCount - 1))
        let analytic = network.analyticGradient(pixels: pixels, label: label)
        let params = network.parameterDictionary
        for (name, tensor) in params.sorted(by: { $0.key < $1.key }) {
            // Check every element of small tensors, a spread sample of large ones.
            let count = tensor.scalars.count
            let indices = count <= 64 ? Array(0..<count) : (0..<64).map { ($0 * 7919) % count }
            for i in indices {
                // A small step (1e-6, at least 8 float32 ulps of the parameter): the float64 loss makes the central
                // difference accurate to ~1e-9, the float32 rounding of the perturbed parameter is removed by dividing
                // by the step actually applied, and a step this small rarely carries a ReLU or max-pool input across
                // its kink (larger steps of 1e-3 did, on random architectures).
                let step = max(1e-6, 8 * Double(tensor.scalars[i].ulp))
                let plus = perturbedLoss(c.architecture, params, name, i, +step, pixels, label)
                let minus = perturbedLoss(c.architecture, params, name, i, -step, pixels, label)
                let numeric = (plus.loss - minus.loss) / (plus.delta - minus.delta)
                let got = Double(analytic[name]!.scalars[i])
                #expect(abs(got - numeric) <= 2e-5 + 2e-4 * abs(numeric), "\(name)[\(i)]: analytic \(got), numeric \(numeric)")
            }
        }
    }
}

/// The float64 reference loss with one parameter moved by (about) `delta`; returns the loss and the delta
/// actually applied after rounding the parameter to float32.
func perturbedLoss(_ arch: Architecture, _ params: [String: Tensor], _ name: String, _ i: Int, _ delta: Double,
                   _ pixels: [Float], _ label: Int) -> (loss: Double, delta: Double) {
    var p = params
    var t = p[name]!
    let base = Double(t.scalars[i])
    t.scalars[i] = Float(base + delta)
    p[name] = t
    return (Reference.loss(arch, params: p, pixels: pixels, label: label), Double(t.scalars[i]) - base)
}

/// A random small architecture: one or two convolutions (random filters, kernel, stride, padding, bias), optional
/// ReLU and pooling, flatten, one or two dense layers, softmax; shapes chosen so every layer fits.
func randomArchitecture(seed: UInt64) -> Architecture {
    var r = TestRandom(seed)
    while true {
        var kinds: [LayerKind] = []
        for _ in 0..<r.int(1...2) {
            let filters = [3, 8, 16, 5][r.int(0...3)]
            kinds.append(.conv2d(Conv2DSpec(filters: filters, kernel: [r.int(1...3), r.int(1...3)], stride: [r.int(1...2), r.int(1...2)],
                                            padding: r.int(0...1) == 0 ? .valid : .same, bias: r.int(0...1) == 1)))
            if r.int(0...1) == 1 { kinds.append(.relu) }
            if r.int(0...1) == 1 { kinds.append(.maxPool2d(MaxPool2DSpec(pool: [2, r.int(1...2)], padding: r.int(0...2) == 0 ? .same : .valid))) }
        }
        kinds.append(.flatten)
        if r.int(0...1) == 1 { kinds += [.dense(DenseSpec(units: r.int(2...6), bias: r.int(0...1) == 1)), .relu] }
        kinds += [.dense(DenseSpec(units: r.int(2...4))), .softmax]
        let arch = Architecture(input: .init(height: r.int(5...9), width: r.int(5...9), channels: r.int(1...3)), kinds: kinds)
        if (try? arch.validate()) != nil { return arch }
    }
}

@Suite("Gradients of random architectures")
struct RandomArchitectureGradientTests {
    @Test("random architectures: every parameter's gradient matches float64 finite differences", arguments: 1...6)
    func random(seed: Int) throws {
        let arch = randomArchitecture(seed: UInt64(seed) * 7919)
        try LayerGradientTests().parameterGradients(GradientCase(name: "random \(seed): \(arch.jsonString())", architecture: arch))
    }
}

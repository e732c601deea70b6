import Foundation
@testable import ConvNet

/// A deliberately naive float64 implementation of the forward pass, written straight from the definitions
/// (6 nested loops for convolution, explicit padding arithmetic), used as the independent reference.
enum Reference {
    /// An activation in float64, HWC.
    struct Activation {
        var h: Int, w: Int, c: Int
        var v: [Double]
        subscript(y: Int, x: Int, ch: Int) -> Double { v[(y * w + x) * c + ch] }
    }

    static func pad(_ n: Int, window: Int, stride: Int, padding: Padding) -> (out: Int, before: Int) {
        switch padding {
        case .valid: return ((n - window) / stride + 1, 0)
        case .same:
            let out = (n + stride - 1) / stride
            return (out, max((out - 1) * stride + window - n, 0) / 2)
        }
    }

    /// Runs every layer; returns the activation after each layer (index 0 = preprocessed input).
    static func forward(_ arch: Architecture, params: [String: Tensor], pixels: [Float]) -> [Activation] {
        var a = Activation(h: arch.input.height, w: arch.input.width, c: arch.input.channels,
                           v: pixels.map { Double($0) * Double(arch.preprocessing.scale) + Double(arch.preprocessing.offset) })
        var out = [a]
        for layer in arch.layers {
            switch layer.kind {
            case let .conv2d(s):
                let k = params["\(layer.name).kernel"]!, b = params["\(layer.name).bias"]
                let (oh, pt) = pad(a.h, window: s.kernel[0], stride: s.stride[0], padding: s.padding)
                let (ow, pl) = pad(a.w, window: s.kernel[1], stride: s.stride[1], padding: s.padding)
                var r = Activation(h: oh, w: ow, c: s.filters, v: .init(repeating: 0, count: oh * ow * s.filters))
                for oy in 0..<oh { for ox in 0..<ow { for f in 0..<s.filters {
                    var sum = b.map { Double($0.scalars[f]) } ?? 0
                    for ky in 0..<s.kernel[0] { for kx in 0..<s.kernel[1] { for c in 0..<a.c {
                        let iy = oy * s.stride[0] - pt + ky, ix = ox * s.stride[1] - pl + kx
                        guard iy >= 0, iy < a.h, ix >= 0, ix < a.w else { continue }
                        let wi = ((ky * s.kernel[1] + kx) * a.c + c) * s.filters + f
                        sum += a[iy, ix, c] * Double(k.scalars[wi])
                    } } }
                    r.v[(oy * ow + ox) * s.filters + f] = sum
                } } }
                a = r
            case .relu:
                a.v = a.v.map { max($0, 0) }
            case let .maxPool2d(s):
                let (oh, pt) = pad(a.h, window: s.pool[0], stride: s.stride[0], padding: s.padding)
                let (ow, pl) = pad(a.w, window: s.pool[1], stride: s.stride[1], padding: s.padding)
                var r = Activation(h: oh, w: ow, c: a.c, v: .init(repeating: 0, count: oh * ow * a.c))
                for oy in 0..<oh { for ox in 0..<ow { for c in 0..<a.c {
                    var m = -Double.infinity
                    for ky in 0..<s.pool[0] { for kx in 0..<s.pool[1] {
                        let iy = oy * s.stride[0] - pt + ky, ix = ox * s.stride[1] - pl + kx
                        guard iy >= 0, iy < a.h, ix >= 0, ix < a.w else { continue }
                        m = max(m, a[iy, ix, c])
                    } }
                    r.v[(oy * ow + ox) * a.c + c] = m
                } } }
                a = r
            case .flatten:
                a = Activation(h: 1, w: 1, c: a.v.count, v: a.v)
            case let .dense(s):
                let k = params["\(layer.name).kernel"]!, b = params["\(layer.name).bias"]
                var r = [Double](repeating: 0, count: s.units)
                for j in 0..<s.units {
                    var sum = b.map { Double($0.scalars[j]) } ?? 0
                    for i in 0..<a.v.count { sum += a.v[i] * Double(k.scalars[i * s.units + j]) }
                    r[j] = sum
                }
                a = Activation(h: 1, w: 1, c: s.units, v: r)
            case .softmax:
                let m = a.v.max()!
                let e = a.v.map { exp($0 - m) }
                let z = e.reduce(0, +)
                a.v = e.map { $0 / z }
            }
            out.append(a)
        }
        return out
    }

    /// Cross-entropy of the softmax output for `label`, in float64.
    static func loss(_ arch: Architecture, params: [String: Tensor], pixels: [Float], label: Int) -> Double {
        let acts = forward(arch, params: params, pixels: pixels)
        // Use the logits (before softmax) for a stable log-softmax.
        let logits = acts[acts.count - 2].v
        let m = logits.max()!
        return m + log(logits.map { exp($0 - m) }.reduce(0, +)) - logits[label]
    }
}

/// Small deterministic random helpers for tests.
struct TestRandom {
    var rng: RandomGenerator
    init(_ seed: UInt64) { rng = RandomGenerator(seed: seed) }
    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(rng.next(below: UInt64(range.count))) }
    mutating func float(_ scale: Float = 1) -> Float { Float(rng.nextGaussian()) * scale }
    mutating func pixels(_ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.next(below: 256)) } }
}

extension Network {
    /// Named parameters in exchange layout, keyed by name.
    var parameterDictionary: [String: Tensor] {
        Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.tensor) })
    }

    /// Random parameters (biases too), for tests.
    mutating func randomize(_ r: inout TestRandom, scale: Float = 0.3) {
        flatParameters = flatParameters.map { _ in r.float(scale) }
    }

    /// The analytic gradient (exchange layout) of the loss for one example.
    func analyticGradient(pixels: [Float], label: Int) -> [String: Tensor] {
        let ws = Workspace(network: self)
        var g = [Float](repeating: 0, count: flatParameters.count)
        flatParameters.withUnsafeBufferPointer { w in
            g.withUnsafeMutableBufferPointer { gp in
                pixels.withUnsafeBufferPointer { loadInput($0.baseAddress!, into: ws) }
                forward(ws, parameters: w.baseAddress!)
                backward(ws, label: label, scale: 1, parameters: w.baseAddress!, gradient: gp.baseAddress!)
            }
        }
        return Dictionary(uniqueKeysWithValues: exchangeTensors(from: g).map { ($0.name, $0.tensor) })
    }
}

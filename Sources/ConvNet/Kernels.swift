// Per-sample compute kernels over raw pointers. The forward pass multiplies and adds separately, as earlier
// versions did, so the outputs (and the probes files record) are unchanged; the backward products use explicit
// fused multiply-adds (`addingProduct`: one rounding, exact per IEEE 754). Nothing is left to compiler
// contraction, so results are the same on every x86-64 and ARM machine. Every loop runs in a fixed order, so results do not depend on
// threads or batch composition. Convolutions are matrix products (GEMM.swift, Im2Col.swift, ConvPlan.swift). Layouts: activations HWC; conv kernels HWIO (`[kh, kw, in, out]`, the exchange
// layout); dense kernels stored row per output unit (`[out, in]`, the transpose of the exchange layout).

typealias FloatPointer = UnsafeMutablePointer<Float>
typealias ConstFloatPointer = UnsafePointer<Float>

/// The geometry of a convolution or pooling layer, resolved once.
struct WindowPlan: Sendable {
    var inHeight: Int, inWidth: Int, inChannels: Int
    var outHeight: Int, outWidth: Int, outChannels: Int
    var windowHeight: Int, windowWidth: Int
    var strideY: Int, strideX: Int
    var padTop: Int, padLeft: Int

    init(input: ActivationShape, output: ActivationShape, y: WindowGeometry, x: WindowGeometry) {
        inHeight = input.height; inWidth = input.width; inChannels = input.channels
        outHeight = output.height; outWidth = output.width; outChannels = output.channels
        windowHeight = y.window; windowWidth = x.window
        strideY = y.stride; strideX = x.stride
        padTop = y.padBefore; padLeft = x.padBefore
    }

    /// Calls `body` with the input offset `(iy * inWidth + ix) * inChannels` of each tap of output position
    /// (oy, ox)'s window that lies inside the input (padding taps are skipped), in row-major window order.
    @inline(__always)
    func forEachTap(oy: Int, ox: Int, _ body: (Int) -> Void) {
        let y0 = oy * strideY - padTop, x0 = ox * strideX - padLeft
        for ky in 0..<windowHeight {
            let iy = y0 + ky
            if iy < 0 || iy >= inHeight { continue }
            for kx in 0..<windowWidth {
                let ix = x0 + kx
                if ix < 0 || ix >= inWidth { continue }
                body((iy * inWidth + ix) * inChannels)
            }
        }
    }
}

/// `y += x` elementwise over `n` scalars.
@inline(__always)
func add(_ n: Int, _ x: ConstFloatPointer, into y: FloatPointer) {
    var i = 0
    while i + 8 <= n {
        store8(load8(y + i) + load8(x + i), y + i)
        i += 8
    }
    while i < n {
        y[i] += x[i]
        i += 1
    }
}

/// `y = fma(a, x, y)` elementwise over `n` scalars.
@inline(__always)
func axpy(_ n: Int, _ a: Float, _ x: ConstFloatPointer, _ y: FloatPointer) {
    var i = 0
    let av = SIMD8<Float>(repeating: a)
    while i + 8 <= n {
        store8(load8(y + i).addingProduct(av, load8(x + i)), y + i)
        i += 8
    }
    while i < n {
        y[i] = y[i].addingProduct(a, x[i])
        i += 1
    }
}

/// The sum of 8 lanes in a fixed tree: `((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7))`.
@inline(__always)
func laneSum(_ acc: SIMD8<Float>) -> Float {
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

/// The dot product of `n` scalars: lane l sums the products of i = l, l + 8, ... in order (multiply, then add:
/// the forward pass keeps the arithmetic of earlier versions, so that recorded probes still verify exactly); the
/// lanes are added by ``laneSum(_:)``, then the tail in order.
@inline(__always)
func dot(_ n: Int, _ x: ConstFloatPointer, _ y: ConstFloatPointer) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 8 <= n {
        acc += load8(x + i) * load8(y + i)
        i += 8
    }
    var sum = laneSum(acc)
    while i < n {
        sum += x[i] * y[i]
        i += 1
    }
    return sum
}

/// ``dot(_:_:_:)`` of four rows `w`, `w + rowStride`, ... with `x` at once (four independent chains hide the
/// add latency), each bitwise equal to its own `dot`.
@inline(__always)
func dot4(_ n: Int, _ w: ConstFloatPointer, _ rowStride: Int, _ x: ConstFloatPointer) -> (Float, Float, Float, Float) {
    let w1 = w + rowStride, w2 = w1 + rowStride, w3 = w2 + rowStride
    var a0 = SIMD8<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
    var i = 0
    while i + 8 <= n {
        let xv = load8(x + i)
        a0 += load8(w + i) * xv
        a1 += load8(w1 + i) * xv
        a2 += load8(w2 + i) * xv
        a3 += load8(w3 + i) * xv
        i += 8
    }
    var s0 = laneSum(a0), s1 = laneSum(a1), s2 = laneSum(a2), s3 = laneSum(a3)
    while i < n {
        s0 += w[i] * x[i]
        s1 += w1[i] * x[i]
        s2 += w2[i] * x[i]
        s3 += w3[i] * x[i]
        i += 1
    }
    return (s0, s1, s2, s3)
}

enum Kernels {
    // MARK: Pooling

    /// Max over each window, remembering the input index of the first maximum (row-major window order).
    /// Padding positions never win. NaN propagates: a NaN input is chosen and stays.
    static func maxPoolForward(_ p: WindowPlan, input: ConstFloatPointer, output: FloatPointer, argmax: UnsafeMutablePointer<Int32>) {
        let ch = p.inChannels
        for oy in 0..<p.outHeight {
            for ox in 0..<p.outWidth {
                let outBase = (oy * p.outWidth + ox) * ch
                for c in 0..<ch {
                    var best = -Float.infinity
                    var bestIndex = -1
                    p.forEachTap(oy: oy, ox: ox) { at in
                        let index = at + c
                        let v = input[index]
                        if bestIndex < 0 || v > best || (v.isNaN && !best.isNaN) {
                            best = v
                            bestIndex = index
                        }
                    }
                    output[outBase + c] = best
                    argmax[outBase + c] = Int32(truncatingIfNeeded: bestIndex)
                }
            }
        }
    }

    /// Routes each output gradient to the input that won its window.
    static func maxPoolBackward(inputCount: Int, outputCount: Int, outputGradient: ConstFloatPointer,
                                argmax: UnsafePointer<Int32>, inputGradient: FloatPointer) {
        inputGradient.update(repeating: 0, count: inputCount)
        for i in 0..<outputCount {
            inputGradient[Int(argmax[i])] += outputGradient[i]
        }
    }

    // MARK: Dense

    /// `out[j] = W[j, :] . x + b[j]` with `W` stored row per output (``dot(_:_:_:)``, then the bias added).
    static func denseForward(inCount: Int, outCount: Int, input: ConstFloatPointer, weights: ConstFloatPointer,
                             bias: ConstFloatPointer?, output: FloatPointer) {
        var j = 0
        while j + 4 <= outCount {
            let (s0, s1, s2, s3) = dot4(inCount, weights + j * inCount, inCount, input)
            output[j] = s0; output[j + 1] = s1; output[j + 2] = s2; output[j + 3] = s3
            j += 4
        }
        while j < outCount {
            output[j] = dot(inCount, weights + j * inCount, input)
            j += 1
        }
        if let bias {
            for j in 0..<outCount { output[j] = bias[j] + output[j] }
        }
    }

    /// `dW[j, :] = fma(g[j], x, dW[j, :])`, `db += g`, and optionally `dx = sum_j g[j] * W[j, :]` (a fused chain
    /// over j in order, from zero).
    static func denseBackward(inCount: Int, outCount: Int, input: ConstFloatPointer, weights: ConstFloatPointer,
                              outputGradient: ConstFloatPointer, weightGradient: FloatPointer, biasGradient: FloatPointer?,
                              inputGradient: FloatPointer?) {
        for j in 0..<outCount {
            axpy(inCount, outputGradient[j], input, weightGradient + j * inCount)
        }
        if let biasGradient {
            for j in 0..<outCount { biasGradient[j] += outputGradient[j] }
        }
        if let inputGradient {
            inputGradient.update(repeating: 0, count: inCount)
            for j in 0..<outCount {
                axpy(inCount, outputGradient[j], weights + j * inCount, inputGradient)
            }
        }
    }

    // MARK: Activations

    static func reluForward(count: Int, input: ConstFloatPointer, output: FloatPointer) {
        for i in 0..<count {
            let v = input[i]
            output[i] = v > 0 ? v : (v.isNaN ? v : 0)
        }
    }

    static func reluBackward(count: Int, input: ConstFloatPointer, outputGradient: ConstFloatPointer, inputGradient: FloatPointer) {
        for i in 0..<count {
            inputGradient[i] = input[i] > 0 ? outputGradient[i] : 0
        }
    }

    /// A numerically stable softmax: subtract the maximum, exponentiate, divide by the sum.
    static func softmax(count: Int, input: ConstFloatPointer, output: FloatPointer) {
        var m = -Float.infinity
        for i in 0..<count where input[i] > m { m = input[i] }
        var sum: Float = 0
        for i in 0..<count {
            let e = expf32(input[i] - m)
            output[i] = e
            sum += e
        }
        let inv = 1 / sum
        for i in 0..<count { output[i] *= inv }
    }

    /// Cross-entropy of `softmax(logits)` against `label`, computed as `logsumexp(z) - z[label]`.
    static func crossEntropy(count: Int, logits: ConstFloatPointer, label: Int) -> Float {
        var m = -Float.infinity
        for i in 0..<count where logits[i] > m { m = logits[i] }
        var sum: Float = 0
        for i in 0..<count { sum += expf32(logits[i] - m) }
        return m + logf32(sum) - logits[label]
    }
}

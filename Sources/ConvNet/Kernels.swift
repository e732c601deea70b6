// Per-sample compute kernels over raw pointers. Multiply-adds are never fused (no FMA), so results are the
// same on every x86-64 and ARM machine. Every loop runs in a fixed order, so results do not depend on
// threads or batch composition. Layouts: activations HWC; conv kernels HWIO (`[kh, kw, in, out]`, the exchange
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
}

/// `y += a * x` over `n` scalars.
@inline(__always)
func axpy(_ n: Int, _ a: Float, _ x: ConstFloatPointer, _ y: FloatPointer) {
    var i = 0
    let av = SIMD8<Float>(repeating: a)
    while i + 8 <= n {
        let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: yv + av * xv, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n {
        y[i] += a * x[i]
        i += 1
    }
}

/// The dot product of `n` scalars, summed in 8 fixed lanes, then the lanes in order, then the tail.
@inline(__always)
func dot(_ n: Int, _ x: ConstFloatPointer, _ y: ConstFloatPointer) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 8 <= n {
        let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        let yv = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
        acc += xv * yv
        i += 8
    }
    var sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
    while i < n {
        sum += x[i] * y[i]
        i += 1
    }
    return sum
}

enum Kernels {
    // MARK: Convolution

    /// `out[oy, ox, :] = bias + sum over taps of in[iy, ix, c] * W[ky, kx, c, :]`.
    static func convForward(_ p: WindowPlan, input: ConstFloatPointer, weights: ConstFloatPointer, bias: ConstFloatPointer?, output: FloatPointer) {
        let cout = p.outChannels, cin = p.inChannels
        for oy in 0..<p.outHeight {
            for ox in 0..<p.outWidth {
                let out = output + (oy * p.outWidth + ox) * cout
                if let bias { out.update(from: bias, count: cout) } else { out.update(repeating: 0, count: cout) }
                let y0 = oy * p.strideY - p.padTop, x0 = ox * p.strideX - p.padLeft
                if cout == 16 {
                    // The seed's width: keep the 16 outputs in two registers across every tap.
                    var a0 = UnsafeRawPointer(out).loadUnaligned(as: SIMD8<Float>.self)
                    var a1 = UnsafeRawPointer(out + 8).loadUnaligned(as: SIMD8<Float>.self)
                    for ky in 0..<p.windowHeight {
                        let iy = y0 + ky
                        if iy < 0 || iy >= p.inHeight { continue }
                        for kx in 0..<p.windowWidth {
                            let ix = x0 + kx
                            if ix < 0 || ix >= p.inWidth { continue }
                            let inp = input + (iy * p.inWidth + ix) * cin
                            var w = weights + (ky * p.windowWidth + kx) * cin * 16
                            for c in 0..<cin {
                                let v = SIMD8<Float>(repeating: inp[c])
                                a0 += v * UnsafeRawPointer(w).loadUnaligned(as: SIMD8<Float>.self)
                                a1 += v * UnsafeRawPointer(w + 8).loadUnaligned(as: SIMD8<Float>.self)
                                w += 16
                            }
                        }
                    }
                    UnsafeMutableRawPointer(out).storeBytes(of: a0, as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(out + 8).storeBytes(of: a1, as: SIMD8<Float>.self)
                    continue
                }
                for ky in 0..<p.windowHeight {
                    let iy = y0 + ky
                    if iy < 0 || iy >= p.inHeight { continue }
                    for kx in 0..<p.windowWidth {
                        let ix = x0 + kx
                        if ix < 0 || ix >= p.inWidth { continue }
                        let inp = input + (iy * p.inWidth + ix) * cin
                        let w = weights + (ky * p.windowWidth + kx) * cin * cout
                        for c in 0..<cin {
                            axpy(cout, inp[c], w + c * cout, out)
                        }
                    }
                }
            }
        }
    }

    /// Accumulates the kernel gradient `dW[ky, kx, c, :] += in[iy, ix, c] * g[oy, ox, :]`, the bias gradient
    /// `db += g[oy, ox, :]`, and, when `inputGradient` is given, writes `dx[iy, ix, c] = sum W[ky, kx, c, :] . g[oy, ox, :]`.
    static func convBackward(_ p: WindowPlan, input: ConstFloatPointer, weights: ConstFloatPointer, outputGradient: ConstFloatPointer,
                             weightGradient: FloatPointer, biasGradient: FloatPointer?, inputGradient: FloatPointer?) {
        let cout = p.outChannels, cin = p.inChannels
        inputGradient?.update(repeating: 0, count: p.inHeight * p.inWidth * cin)
        for oy in 0..<p.outHeight {
            for ox in 0..<p.outWidth {
                let g = outputGradient + (oy * p.outWidth + ox) * cout
                if let biasGradient {
                    for o in 0..<cout { biasGradient[o] += g[o] }
                }
                let y0 = oy * p.strideY - p.padTop, x0 = ox * p.strideX - p.padLeft
                for ky in 0..<p.windowHeight {
                    let iy = y0 + ky
                    if iy < 0 || iy >= p.inHeight { continue }
                    for kx in 0..<p.windowWidth {
                        let ix = x0 + kx
                        if ix < 0 || ix >= p.inWidth { continue }
                        let inOffset = (iy * p.inWidth + ix) * cin
                        let wOffset = (ky * p.windowWidth + kx) * cin * cout
                        for c in 0..<cin {
                            axpy(cout, input[inOffset + c], g, weightGradient + wOffset + c * cout)
                        }
                        if let inputGradient {
                            for c in 0..<cin {
                                inputGradient[inOffset + c] += dot(cout, weights + wOffset + c * cout, g)
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: Pooling

    /// Max over each window, remembering the input index of the first maximum (row-major window order).
    /// Padding positions never win. NaN propagates: a NaN input is chosen and stays.
    static func maxPoolForward(_ p: WindowPlan, input: ConstFloatPointer, output: FloatPointer, argmax: UnsafeMutablePointer<Int32>) {
        let ch = p.inChannels
        for oy in 0..<p.outHeight {
            for ox in 0..<p.outWidth {
                let outBase = (oy * p.outWidth + ox) * ch
                let y0 = oy * p.strideY - p.padTop, x0 = ox * p.strideX - p.padLeft
                for c in 0..<ch {
                    var best = -Float.infinity
                    var bestIndex = -1
                    for ky in 0..<p.windowHeight {
                        let iy = y0 + ky
                        if iy < 0 || iy >= p.inHeight { continue }
                        for kx in 0..<p.windowWidth {
                            let ix = x0 + kx
                            if ix < 0 || ix >= p.inWidth { continue }
                            let index = (iy * p.inWidth + ix) * ch + c
                            let v = input[index]
                            if bestIndex < 0 || v > best || (v.isNaN && !best.isNaN) {
                                best = v
                                bestIndex = index
                            }
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

    /// `out[j] = b[j] + W[j, :] . x` with `W` stored row per output.
    static func denseForward(inCount: Int, outCount: Int, input: ConstFloatPointer, weights: ConstFloatPointer,
                             bias: ConstFloatPointer?, output: FloatPointer) {
        for j in 0..<outCount {
            let s = dot(inCount, weights + j * inCount, input)
            output[j] = bias.map { $0[j] + s } ?? s
        }
    }

    /// `dW[j, :] += g[j] * x`, `db += g`, and optionally `dx = sum_j g[j] * W[j, :]`.
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

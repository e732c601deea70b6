// Direct kernels for convolutions with few taps per output (T = kh * kw * cin at most `directTapLimit`, for
// example the seed network's 3x3 kernel over one channel, T = 9). With so short a depth the packed GEMM spends
// more time packing panels and loading and storing C tiles than multiplying, so these loop over the output
// positions directly, with the output channels in SIMD registers.
//
// Each computes every element with exactly the arithmetic of the GEMM path (the same chain, in the same order,
// from the same starting value), so which path runs never changes a bit:
// - forward: bias (or zero), then `+ x * w` for each tap in (ky, kx, c) order, multiply and add rounded separately;
// - kernel gradient: `dW[t, o] = fma(x, g, dW[t, o])` over the output positions in row-major order, starting from
//   the gradient accumulated so far.
// `Tests/ConvNetTests` compares both paths bit for bit.

extension Kernels {
    /// The largest tap count (kh * kw * cin) the direct kernels take.
    static let directTapLimit = 16

    /// Whether ``convForward`` and ``convWeightGradient`` use the direct kernels for `plan`.
    static func usesDirectKernels(_ plan: ConvPlan) -> Bool {
        plan.tapCount <= directTapLimit && plan.window.outChannels % 8 == 0
    }

    /// Forward convolution over a (padded) input, output channels in blocks of 16 (or 8) and four output positions
    /// at a time (fewer at the end of a row).
    static func convForwardDirect(_ plan: ConvPlan, input: ConstFloatPointer, weights: ConstFloatPointer, bias: ConstFloatPointer?,
                                  output: FloatPointer) {
        let p = plan.window
        let cout = p.outChannels, cin = p.inChannels, pw = plan.paddedWidth, kh = p.windowHeight
        let tapStride = p.strideX * cin, rowTaps = plan.rowTaps
        let zero = SIMD8<Float>(repeating: 0)
        for oy in 0..<p.outHeight {
            let rowBase = oy * p.strideY
            var ox = 0
            while ox < p.outWidth {
                // Positions past the end of the row (block < 4) repeat the last one and are not stored.
                let block = min(4, p.outWidth - ox)
                let s1 = min(1, block - 1) * tapStride, s2 = min(2, block - 1) * tapStride, s3 = min(3, block - 1) * tapStride
                var chunk = 0
                while chunk < cout {
                    let wide = chunk + 16 <= cout
                    let b0 = bias.map { load8($0 + chunk) } ?? zero
                    let b1 = wide ? (bias.map { load8($0 + chunk + 8) } ?? zero) : zero
                    var a0 = b0, a1 = b0, a2 = b0, a3 = b0
                    var c0 = b1, c1 = b1, c2 = b1, c3 = b1
                    for ky in 0..<kh {
                        // Within one kernel row the taps (kx, c) are contiguous in both input and kernel.
                        var inTap = input + ((rowBase + ky) * pw + ox * p.strideX) * cin
                        var wTap = weights + (ky * rowTaps) * cout + chunk
                        for _ in 0..<rowTaps {
                            let w0 = load8(wTap), w1 = wide ? load8(wTap + 8) : zero
                            let v0 = SIMD8(repeating: inTap[0]), v1 = SIMD8(repeating: inTap[s1])
                            let v2 = SIMD8(repeating: inTap[s2]), v3 = SIMD8(repeating: inTap[s3])
                            a0 += v0 * w0; c0 += v0 * w1
                            a1 += v1 * w0; c1 += v1 * w1
                            a2 += v2 * w0; c2 += v2 * w1
                            a3 += v3 * w0; c3 += v3 * w1
                            inTap += 1
                            wTap += cout
                        }
                    }
                    storeRows((a0, a1, a2, a3), (c0, c1, c2, c3), count: block, wide: wide,
                              to: output + (oy * p.outWidth + ox) * cout + chunk, rowStride: cout)
                    chunk += wide ? 16 : 8
                }
                ox += block
            }
        }
    }

    /// The kernel gradient over a (padded) input, `dW[t, o] += sum over positions of x * g` as fused chains:
    /// output channels in blocks of 16 (or 8), taps in groups of four (a smaller last group repeats its last tap,
    /// whose extra sums are not stored).
    static func convWeightGradientDirect(_ plan: ConvPlan, input: ConstFloatPointer, outputGradient g: ConstFloatPointer,
                                         weightGradient: FloatPointer) {
        let p = plan.window
        let cout = p.outChannels, cin = p.inChannels, pw = plan.paddedWidth
        let taps = plan.tapCount, rowTaps = plan.rowTaps
        let step = p.strideX * cin, ow = p.outWidth
        let zero = SIMD8<Float>(repeating: 0)
        // Tap t = ky * rowTaps + j sits at `ky * pw * cin + j` from a window's origin in the padded input.
        @inline(__always) func offset(_ t: Int) -> Int { (t / rowTaps) * pw * cin + t % rowTaps }
        var chunk = 0
        while chunk < cout {
            let wide = chunk + 16 <= cout
            var t0 = 0
            while t0 < taps {
                let group = min(4, taps - t0)
                let o0 = offset(t0), o1 = offset(t0 + min(1, group - 1)), o2 = offset(t0 + min(2, group - 1)), o3 = offset(t0 + min(3, group - 1))
                let rows = weightGradient + t0 * cout + chunk
                @inline(__always) func start(_ i: Int, _ high: Bool) -> SIMD8<Float> {
                    let at = rows + min(i, group - 1) * cout + (high ? 8 : 0)
                    return high && !wide ? zero : load8(at)
                }
                var a0 = start(0, false), a1 = start(1, false), a2 = start(2, false), a3 = start(3, false)
                var b0 = start(0, true), b1 = start(1, true), b2 = start(2, true), b3 = start(3, true)
                for oy in 0..<p.outHeight {
                    var x = input + oy * p.strideY * pw * cin
                    var gp = g + oy * ow * cout + chunk
                    for _ in 0..<ow {
                        let g0 = load8(gp), g1 = wide ? load8(gp + 8) : zero
                        let v0 = SIMD8(repeating: x[o0]), v1 = SIMD8(repeating: x[o1])
                        let v2 = SIMD8(repeating: x[o2]), v3 = SIMD8(repeating: x[o3])
                        a0 = a0.addingProduct(v0, g0); b0 = b0.addingProduct(v0, g1)
                        a1 = a1.addingProduct(v1, g0); b1 = b1.addingProduct(v1, g1)
                        a2 = a2.addingProduct(v2, g0); b2 = b2.addingProduct(v2, g1)
                        a3 = a3.addingProduct(v3, g0); b3 = b3.addingProduct(v3, g1)
                        x += step
                        gp += cout
                    }
                }
                storeRows((a0, a1, a2, a3), (b0, b1, b2, b3), count: group, wide: wide, to: rows, rowStride: cout)
                t0 += group
            }
            chunk += wide ? 16 : 8
        }
    }

    /// Stores the first `count` of four rows of 8 (or, when `wide`, 16) values: row i's low half `lows.i`, its
    /// high half `highs.i`, at `to + i * rowStride`.
    @inline(__always)
    private static func storeRows(_ lows: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>),
                                  _ highs: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>),
                                  count: Int, wide: Bool, to target: FloatPointer, rowStride: Int) {
        withUnsafeBytes(of: lows) { l in
            withUnsafeBytes(of: highs) { h in
                for i in 0..<count {
                    store8(l.load(fromByteOffset: i * 32, as: SIMD8<Float>.self), target + i * rowStride)
                    if wide { store8(h.load(fromByteOffset: i * 32, as: SIMD8<Float>.self), target + i * rowStride + 8) }
                }
            }
        }
    }
}

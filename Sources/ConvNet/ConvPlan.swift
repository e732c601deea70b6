/// A convolution resolved for the fast kernels: its window plan plus the padded input geometry.
///
/// With `same` padding the input is copied into a zero-padded buffer first, so that every output position reads
/// only in-range memory and the kernels need no bounds checks.
struct ConvPlan: Sendable {
    var window: WindowPlan
    /// Padded input height and width (equal to the input's when there is no padding).
    var paddedHeight: Int
    var paddedWidth: Int
    var isPadded: Bool { paddedHeight != window.inHeight || paddedWidth != window.inWidth }
    var paddedCount: Int { paddedHeight * paddedWidth * window.inChannels }

    init(_ w: WindowPlan) {
        window = w
        // The last window may reach past the input on the far side; pad enough for every tap.
        paddedHeight = max(w.inHeight + w.padTop, (w.outHeight - 1) * w.strideY + w.windowHeight)
        paddedWidth = max(w.inWidth + w.padLeft, (w.outWidth - 1) * w.strideX + w.windowWidth)
    }

    /// Copies `input` into the zero-padded buffer.
    func pad(_ input: ConstFloatPointer, into padded: FloatPointer) {
        let w = window, cin = w.inChannels
        padded.update(repeating: 0, count: paddedCount)
        for y in 0..<w.inHeight {
            (padded + ((y + w.padTop) * paddedWidth + w.padLeft) * cin).update(from: input + y * w.inWidth * cin, count: w.inWidth * cin)
        }
    }

    /// Adds the interior of a padded gradient into `inputGradient` (which it overwrites).
    func crop(_ padded: ConstFloatPointer, into inputGradient: FloatPointer) {
        let w = window, cin = w.inChannels
        for y in 0..<w.inHeight {
            (inputGradient + y * w.inWidth * cin).update(from: padded + ((y + w.padTop) * paddedWidth + w.padLeft) * cin, count: w.inWidth * cin)
        }
    }
}

@inline(__always) func load8(_ p: ConstFloatPointer) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always) func store8(_ v: SIMD8<Float>, _ p: FloatPointer) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

extension Kernels {
    /// Forward convolution over a (padded) input with output channels in blocks of 8 and four output positions
    /// at a time; falls back to one position at a time at the end of a row. For each output element the sum runs
    /// bias first, then taps in (ky, kx, c) order, as in the reference kernel.
    static func convForwardFast(_ plan: ConvPlan, input: ConstFloatPointer, weights: ConstFloatPointer, bias: ConstFloatPointer?, output: FloatPointer) {
        let p = plan.window
        let cout = p.outChannels, cin = p.inChannels, pw = plan.paddedWidth, kh = p.windowHeight, kw = p.windowWidth
        let sx = p.strideX
        let tapStride = sx * cin
        let rowTaps = kw * cin
        for oy in 0..<p.outHeight {
            let rowBase = oy * p.strideY
            var ox = 0
            while ox < p.outWidth {
                let block = min(4, p.outWidth - ox)
                var chunk = 0
                // Sixteen channels and four positions at once: eight independent sums hide the add latency.
                while block == 4 && chunk + 16 <= cout {
                    let b0 = bias.map { load8($0 + chunk) } ?? SIMD8<Float>(repeating: 0)
                    let b1 = bias.map { load8($0 + chunk + 8) } ?? SIMD8<Float>(repeating: 0)
                    var a0 = b0, a1 = b0, a2 = b0, a3 = b0
                    var c0 = b1, c1 = b1, c2 = b1, c3 = b1
                    for ky in 0..<kh {
                        // Within one kernel row the taps (kx, c) are contiguous in both input and kernel.
                        var inTap = input + ((rowBase + ky) * pw + ox * sx) * cin
                        var wTap = weights + (ky * rowTaps) * cout + chunk
                        for _ in 0..<rowTaps {
                            let w0 = load8(wTap), w1 = load8(wTap + 8)
                            let v0 = SIMD8(repeating: inTap[0]), v1 = SIMD8(repeating: inTap[tapStride])
                            let v2 = SIMD8(repeating: inTap[2 &* tapStride]), v3 = SIMD8(repeating: inTap[3 &* tapStride])
                            a0 += v0 * w0; c0 += v0 * w1
                            a1 += v1 * w0; c1 += v1 * w1
                            a2 += v2 * w0; c2 += v2 * w1
                            a3 += v3 * w0; c3 += v3 * w1
                            inTap += 1
                            wTap += cout
                        }
                    }
                    let out = output + (oy * p.outWidth + ox) * cout + chunk
                    store8(a0, out); store8(c0, out + 8)
                    store8(a1, out + cout); store8(c1, out + cout + 8)
                    store8(a2, out + 2 * cout); store8(c2, out + 2 * cout + 8)
                    store8(a3, out + 3 * cout); store8(c3, out + 3 * cout + 8)
                    chunk += 16
                }
                while chunk < cout {
                    let b = bias.map { load8($0 + chunk) } ?? SIMD8<Float>(repeating: 0)
                    var a0 = b, a1 = b, a2 = b, a3 = b
                    for ky in 0..<kh {
                        var inTap = input + ((rowBase + ky) * pw + ox * sx) * cin
                        var wTap = weights + (ky * rowTaps) * cout + chunk
                        if block == 4 {
                            for _ in 0..<rowTaps {
                                let w = load8(wTap)
                                a0 += SIMD8(repeating: inTap[0]) * w
                                a1 += SIMD8(repeating: inTap[tapStride]) * w
                                a2 += SIMD8(repeating: inTap[2 &* tapStride]) * w
                                a3 += SIMD8(repeating: inTap[3 &* tapStride]) * w
                                inTap += 1
                                wTap += cout
                            }
                        } else {
                            for _ in 0..<rowTaps {
                                let w = load8(wTap)
                                a0 += SIMD8(repeating: inTap[0]) * w
                                if block > 1 { a1 += SIMD8(repeating: inTap[tapStride]) * w }
                                if block > 2 { a2 += SIMD8(repeating: inTap[2 &* tapStride]) * w }
                                inTap += 1
                                wTap += cout
                            }
                        }
                    }
                    let out = output + (oy * p.outWidth + ox) * cout + chunk
                    store8(a0, out)
                    if block > 1 { store8(a1, out + cout) }
                    if block > 2 { store8(a2, out + 2 * cout) }
                    if block > 3 { store8(a3, out + 3 * cout) }
                    chunk += 8
                }
                ox += block
            }
        }
    }

    /// Kernel and bias gradients over a (padded) input, output channels in blocks of 16 or 8. For each kernel
    /// element the products over all output positions are summed in row-major position order in a register,
    /// then added to the accumulated gradient.
    static func convWeightGradientFast(_ plan: ConvPlan, input: ConstFloatPointer, outputGradient g: ConstFloatPointer,
                                       weightGradient: FloatPointer, biasGradient: FloatPointer?) {
        let p = plan.window
        let cout = p.outChannels, cin = p.inChannels, pw = plan.paddedWidth, kh = p.windowHeight
        let rowTaps = p.windowWidth * cin
        let sx = p.strideX, sy = p.strideY, ow = p.outWidth, oh = p.outHeight
        let stepX = sx * cin
        if let biasGradient {
            var chunk = 0
            while chunk < cout {
                var acc = SIMD8<Float>(repeating: 0)
                for pos in 0..<(oh * ow) { acc += load8(g + pos * cout + chunk) }
                store8(load8(biasGradient + chunk) + acc, biasGradient + chunk)
                chunk += 8
            }
        }
        var chunk = 0
        while chunk < cout {
            let wide = chunk + 16 <= cout
            for ky in 0..<kh {
                // Taps j = kx * cin + c of one kernel row are contiguous in the input row and in the kernel.
                var j = 0
                while j < rowTaps {
                    let group = min(4, rowTaps - j)
                    var a0 = SIMD8<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0
                    var b0 = a0, b1 = a0, b2 = a0, b3 = a0
                    for oy in 0..<oh {
                        var i = input + ((oy * sy + ky) * pw) * cin + j
                        var gp = g + oy * ow * cout + chunk
                        if wide && group == 4 {
                            for _ in 0..<ow {
                                let g0 = load8(gp), g1 = load8(gp + 8)
                                let v0 = SIMD8(repeating: i[0]), v1 = SIMD8(repeating: i[1])
                                let v2 = SIMD8(repeating: i[2]), v3 = SIMD8(repeating: i[3])
                                a0 += v0 * g0; b0 += v0 * g1
                                a1 += v1 * g0; b1 += v1 * g1
                                a2 += v2 * g0; b2 += v2 * g1
                                a3 += v3 * g0; b3 += v3 * g1
                                i += stepX
                                gp += cout
                            }
                        } else {
                            for _ in 0..<ow {
                                let g0 = load8(gp)
                                let g1 = wide ? load8(gp + 8) : g0
                                let v0 = SIMD8(repeating: i[0])
                                a0 += v0 * g0
                                if wide { b0 += v0 * g1 }
                                if group > 1 { let v = SIMD8(repeating: i[1]); a1 += v * g0; if wide { b1 += v * g1 } }
                                if group > 2 { let v = SIMD8(repeating: i[2]); a2 += v * g0; if wide { b2 += v * g1 } }
                                if group > 3 { let v = SIMD8(repeating: i[3]); a3 += v * g0; if wide { b3 += v * g1 } }
                                i += stepX
                                gp += cout
                            }
                        }
                    }
                    let base = weightGradient + (ky * rowTaps + j) * cout + chunk
                    let sums = [a0, a1, a2, a3], highs = [b0, b1, b2, b3]
                    for t in 0..<group {
                        let at = base + t * cout
                        store8(load8(at) + sums[t], at)
                        if wide { store8(load8(at + 8) + highs[t], at + 8) }
                    }
                    j += group
                }
            }
            chunk += wide ? 16 : 8
        }
    }

    /// The gradient with respect to the (padded) input: for each output position and tap,
    /// `dP[iy, ix, :] += sum_o g[oy, ox, o] * W[ky, kx, :, o]`, using `transposed` = W as `[kh, kw, out, in]`.
    static func convInputGradientFast(_ plan: ConvPlan, transposedWeights wt: ConstFloatPointer, outputGradient g: ConstFloatPointer,
                                      paddedGradient dp: FloatPointer) {
        let p = plan.window
        let cout = p.outChannels, cin = p.inChannels, pw = plan.paddedWidth, kh = p.windowHeight, kw = p.windowWidth
        dp.update(repeating: 0, count: plan.paddedCount)
        for oy in 0..<p.outHeight {
            for ox in 0..<p.outWidth {
                let gp = g + (oy * p.outWidth + ox) * cout
                for ky in 0..<kh {
                    for kx in 0..<kw {
                        let target = dp + ((oy * p.strideY + ky) * pw + ox * p.strideX + kx) * cin
                        let wTap = wt + (ky * kw + kx) * cout * cin
                        for o in 0..<cout {
                            axpy(cin, gp[o], wTap + o * cin, target)
                        }
                    }
                }
            }
        }
    }

    /// Writes `W[kh, kw, in, out]` as `[kh, kw, out, in]`.
    static func transposeKernel(_ p: WindowPlan, weights: ConstFloatPointer, into wt: FloatPointer) {
        let cin = p.inChannels, cout = p.outChannels
        for tap in 0..<(p.windowHeight * p.windowWidth) {
            let src = weights + tap * cin * cout, dst = wt + tap * cin * cout
            for c in 0..<cin {
                for o in 0..<cout { dst[o * cin + c] = src[c * cout + o] }
            }
        }
    }

    /// Max pooling with channels in blocks of 8: the first maximum in row-major window order wins; a NaN wins
    /// over numbers and stays.
    static func maxPoolForwardFast(_ p: WindowPlan, input: ConstFloatPointer, output: FloatPointer, argmax: UnsafeMutablePointer<Int32>) {
        let ch = p.inChannels
        let lane = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
        if p.windowHeight == 2 && p.windowWidth == 2 && p.padTop == 0 && p.padLeft == 0
            && (p.outHeight - 1) * p.strideY + 2 <= p.inHeight && (p.outWidth - 1) * p.strideX + 2 <= p.inWidth {
            // The common 2x2 window with every tap in range: four loads and three selects per 8 channels.
            let right = Int32(ch), down = Int32(p.inWidth * ch)
            for oy in 0..<p.outHeight {
                for ox in 0..<p.outWidth {
                    let outBase = (oy * p.outWidth + ox) * ch
                    let at = (oy * p.strideY * p.inWidth + ox * p.strideX) * ch
                    var c = 0
                    while c < ch {
                        let a = input + at + c
                        let base = SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: at + c)) &+ lane
                        var best = load8(a)
                        var index = base
                        @inline(__always) func visit(_ offset: Int32) {
                            let v = load8(a + Int(offset))
                            let wins = (v .> best) .| ((v .!= v) .& (best .== best))
                            best.replace(with: v, where: wins)
                            index.replace(with: base &+ SIMD8(repeating: offset), where: wins)
                        }
                        visit(right)
                        visit(down)
                        visit(down &+ right)
                        store8(best, output + outBase + c)
                        UnsafeMutableRawPointer(argmax + outBase + c).storeBytes(of: index, as: SIMD8<Int32>.self)
                        c += 8
                    }
                }
            }
            return
        }
        for oy in 0..<p.outHeight {
            for ox in 0..<p.outWidth {
                let outBase = (oy * p.outWidth + ox) * ch
                let y0 = oy * p.strideY - p.padTop, x0 = ox * p.strideX - p.padLeft
                var c = 0
                while c < ch {
                    var best = SIMD8<Float>(repeating: -.infinity)
                    var index = SIMD8<Int32>(repeating: -1)
                    var first = true
                    for ky in 0..<p.windowHeight {
                        let iy = y0 + ky
                        if iy < 0 || iy >= p.inHeight { continue }
                        for kx in 0..<p.windowWidth {
                            let ix = x0 + kx
                            if ix < 0 || ix >= p.inWidth { continue }
                            let at = (iy * p.inWidth + ix) * ch + c
                            let v = load8(input + at)
                            let candidate = SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: at)) &+ lane
                            if first {
                                best = v
                                index = candidate
                                first = false
                            } else {
                                let wins = (v .> best) .| ((v .!= v) .& (best .== best))
                                best.replace(with: v, where: wins)
                                index.replace(with: candidate, where: wins)
                            }
                        }
                    }
                    store8(best, output + outBase + c)
                    UnsafeMutableRawPointer(argmax + outBase + c).storeBytes(of: index, as: SIMD8<Int32>.self)
                    c += 8
                }
            }
        }
    }
}

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
    /// Forward convolution over a (padded) input: the direct kernel when the convolution has few taps, the packed
    /// product otherwise (the same bits either way).
    static func convForward(_ plan: ConvPlan, input: ConstFloatPointer, weights: ConstFloatPointer, bias: ConstFloatPointer?,
                            output: FloatPointer, scratch: GEMMScratch) {
        if usesDirectKernels(plan) {
            convForwardDirect(plan, input: input, weights: weights, bias: bias, output: output)
        } else {
            convForwardGEMM(plan, input: input, weights: weights, bias: bias, output: output, scratch: scratch)
        }
    }

    /// Forward convolution as one product, `out[P, cout] = bias + col[P, T] x W[T, cout]`:
    /// each output element is the bias (or zero), then `+ x * w` per tap in (ky, kx, c) order, multiply and add
    /// rounded separately: bitwise the arithmetic of earlier versions, so recorded probes still verify.
    static func convForwardGEMM(_ plan: ConvPlan, input: ConstFloatPointer, weights: ConstFloatPointer, bias: ConstFloatPointer?,
                                output: FloatPointer, scratch: GEMMScratch) {
        let cout = plan.window.outChannels, positions = plan.positionCount
        for p in 0..<positions {
            if let bias { (output + p * cout).update(from: bias, count: cout) } else { (output + p * cout).update(repeating: 0, count: cout) }
        }
        GEMM.multiply(m: positions, n: cout, k: plan.tapCount, Im2ColRows(plan: plan, input: input),
                      StridedMatrix(base: weights, rowStride: cout, columnStride: 1), c: output, ldc: cout, fused: false, scratch: scratch)
    }

    /// Accumulates the kernel gradient `dW[T, cout] += col^T[T, P] x g[P, cout]` (each element continues its
    /// fused chain over the positions in row-major order; the direct kernel when the convolution has few taps) and
    /// the bias gradient `db += g[p, :]` for p in order.
    static func convWeightGradient(_ plan: ConvPlan, input: ConstFloatPointer, outputGradient g: ConstFloatPointer,
                                   weightGradient: FloatPointer, biasGradient: FloatPointer?, scratch: GEMMScratch) {
        let cout = plan.window.outChannels, positions = plan.positionCount
        if let biasGradient {
            for p in 0..<positions {
                add(cout, g + p * cout, into: biasGradient)
            }
        }
        if usesDirectKernels(plan) {
            convWeightGradientDirect(plan, input: input, outputGradient: g, weightGradient: weightGradient)
        } else {
            convWeightGradientGEMM(plan, input: input, outputGradient: g, weightGradient: weightGradient, scratch: scratch)
        }
    }

    /// The kernel gradient as one product, `dW[T, cout] += col^T[T, P] x g[P, cout]`.
    static func convWeightGradientGEMM(_ plan: ConvPlan, input: ConstFloatPointer, outputGradient g: ConstFloatPointer,
                                       weightGradient: FloatPointer, scratch: GEMMScratch) {
        GEMM.multiply(m: plan.tapCount, n: plan.window.outChannels, k: plan.positionCount, Im2ColColumns(plan: plan, input: input),
                      StridedMatrix(base: g, rowStride: plan.window.outChannels, columnStride: 1), c: weightGradient,
                      ldc: plan.window.outChannels, fused: true, scratch: scratch)
    }

    /// The gradient of the (padded) input: `dcol[P, T] = g[P, cout] x W^T[cout, T]` (chains over the output
    /// channels in order, from zero), then ``ConvPlan/col2im(_:into:)``.
    static func convInputGradient(_ plan: ConvPlan, weights: ConstFloatPointer, outputGradient g: ConstFloatPointer,
                                  colGradient: FloatPointer, paddedGradient: FloatPointer, scratch: GEMMScratch) {
        let cout = plan.window.outChannels, positions = plan.positionCount, taps = plan.tapCount
        colGradient.update(repeating: 0, count: positions * taps)
        GEMM.multiply(m: positions, n: taps, k: cout, StridedMatrix(base: g, rowStride: cout, columnStride: 1),
                      StridedMatrix(base: weights, rowStride: 1, columnStride: cout), c: colGradient, ldc: taps, fused: true, scratch: scratch)
        plan.col2im(colGradient, into: paddedGradient)
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
                var c = 0
                while c < ch {
                    var best = SIMD8<Float>(repeating: -.infinity)
                    var index = SIMD8<Int32>(repeating: -1)
                    var first = true
                    p.forEachTap(oy: oy, ox: ox) { tap in
                        let at = tap + c
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
                    store8(best, output + outBase + c)
                    UnsafeMutableRawPointer(argmax + outBase + c).storeBytes(of: index, as: SIMD8<Int32>.self)
                    c += 8
                }
            }
        }
    }
}

// The convolution as matrices, without materialising the im2col matrix (an implicit GEMM): the packing routines
// of ``GEMM`` read the (padded) HWC input directly.
//
// For output position p = (oy, ox) and tap t = (ky, kx, c) (the HWIO kernel's row order), the im2col matrix is
// `col[p, t] = input[oy * sy + ky, ox * sx + kx, c]` on the padded input. Within one kernel row ky the taps
// (kx, c) are `kw * cin` contiguous floats of the input, so a row of `col` is `kh` contiguous segments.

/// `col` as the A operand of the forward product `out[P, cout] = col[P, T] x W[T, cout]`: rows are positions.
struct Im2ColRows: GEMMOperand {
    let plan: ConvPlan
    let input: ConstFloatPointer

    func packRows(_ i0: Int, count: Int, depth k0: Int, _ depth: Int, into panel: FloatPointer) {
        let mr = GEMM.mr, w = plan.window, cin = w.inChannels, rowTaps = plan.rowTaps, inputRow = plan.paddedRowStride
        // The window origin of each of the panel's positions (rows past count repeat the last one; never stored).
        var origins = (input, input, input, input, input, input)
        withUnsafeMutableBytes(of: &origins) { raw in
            let o = raw.bindMemory(to: ConstFloatPointer.self)
            for r in 0..<mr {
                let p = min(i0 + r, i0 + count - 1), oy = p / w.outWidth, ox = p % w.outWidth
                o[r] = input + oy * w.strideY * inputRow + ox * w.strideX * cin
            }
        }
        let (o0, o1, o2, o3, o4, o5) = origins
        var ky = k0 / rowTaps, j = k0 % rowTaps
        var dst = panel
        var done = 0
        while done < depth {
            // One run of contiguous taps within kernel row ky.
            let run = min(rowTaps - j, depth - done), at = ky * inputRow + j
            for t in 0..<run {
                dst[0] = o0[at + t]; dst[1] = o1[at + t]; dst[2] = o2[at + t]
                dst[3] = o3[at + t]; dst[4] = o4[at + t]; dst[5] = o5[at + t]
                dst += mr
            }
            done += run
            j = 0
            ky += 1
        }
    }

    func packColumns(_ j0: Int, count: Int, depth k0: Int, _ depth: Int, into panel: FloatPointer) {
        preconditionFailure("im2col rows are only an A operand")
    }
}

/// `col` transposed as the A operand of the kernel gradient `dW[T, cout] += col^T[T, P] x g[P, cout]`: rows are
/// taps, the depth runs over positions.
struct Im2ColColumns: GEMMOperand {
    let plan: ConvPlan
    let input: ConstFloatPointer

    func packRows(_ i0: Int, count: Int, depth k0: Int, _ depth: Int, into panel: FloatPointer) {
        let mr = GEMM.mr, w = plan.window, cin = w.inChannels, rowTaps = plan.rowTaps, inputRow = plan.paddedRowStride
        // The offset of each of the panel's taps from a position's window origin.
        var offsets = (0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &offsets) { raw in
            let o = raw.bindMemory(to: Int.self)
            for r in 0..<mr {
                let t = min(i0 + r, i0 + count - 1) // rows past count repeat the last tap and are never stored
                o[r] = (t / rowTaps) * inputRow + t % rowTaps
            }
        }
        let (o0, o1, o2, o3, o4, o5) = offsets
        var oy = k0 / w.outWidth, ox = k0 % w.outWidth
        var dst = panel
        for _ in 0..<depth {
            let origin = input + oy * w.strideY * inputRow + ox * w.strideX * cin
            dst[0] = origin[o0]; dst[1] = origin[o1]; dst[2] = origin[o2]
            dst[3] = origin[o3]; dst[4] = origin[o4]; dst[5] = origin[o5]
            dst += mr
            ox += 1
            if ox == w.outWidth { ox = 0; oy += 1 }
        }
    }

    func packColumns(_ j0: Int, count: Int, depth k0: Int, _ depth: Int, into panel: FloatPointer) {
        preconditionFailure("transposed im2col is only an A operand")
    }
}

extension ConvPlan {
    /// Taps per output position: `kh * kw * cin`, the depth of the forward product.
    var tapCount: Int { window.windowHeight * window.windowWidth * window.inChannels }
    /// Taps in one kernel row: `kw * cin`, contiguous floats of the (padded) input.
    var rowTaps: Int { window.windowWidth * window.inChannels }
    /// Floats in one row of the (padded) input.
    var paddedRowStride: Int { paddedWidth * window.inChannels }
    var positionCount: Int { window.outHeight * window.outWidth }

    /// The gradient of the padded input from the gradient of `col` (`[P, T]`, row per position): each input
    /// element gathers the `col` entries that read it, in (ky, kx) order, starting from zero. A gather (rather
    /// than a scatter over positions) writes each element once, so any split of the rows would give the same bits.
    func col2im(_ colGradient: ConstFloatPointer, into paddedGradient: FloatPointer) {
        let w = window, cin = w.inChannels, taps = tapCount
        for iy in 0..<paddedHeight {
            for ix in 0..<paddedWidth {
                let target = paddedGradient + (iy * paddedWidth + ix) * cin
                target.update(repeating: 0, count: cin)
                for ky in 0..<w.windowHeight {
                    let ty = iy - ky
                    if ty < 0 || ty % w.strideY != 0 || ty / w.strideY >= w.outHeight { continue }
                    for kx in 0..<w.windowWidth {
                        let tx = ix - kx
                        if tx < 0 || tx % w.strideX != 0 || tx / w.strideX >= w.outWidth { continue }
                        let p = (ty / w.strideY) * w.outWidth + tx / w.strideX
                        add(cin, colGradient + p * taps + (ky * w.windowWidth + kx) * cin, into: target)
                    }
                }
            }
        }
    }
}

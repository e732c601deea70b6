// A packed-panel matrix multiply, `C += A x B`, for the convolution products (forward, weight gradient, input
// gradient). The layout follows the usual BLIS scheme:
//
//   for each depth block of `kc` (in order)            B block packed: kc x n, in panels of `nr` columns
//     for each row block of `mc`                         A block packed: mc x kc, in panels of `mr` rows
//       for each B panel (nr columns)                    the panel (kc x 16 floats = 16 KB) stays in L1
//         for each A panel (mr rows)                     the A block (96 x 256 floats = 96 KB) stays in L2
//           micro-kernel: an mr x nr tile of C in 12 AVX registers, kc fused multiply-adds per element
//
// Blocking parameters: `mr` = 6 rows by `nr` = 16 columns (two SIMD8) gives 12 accumulators plus two B vectors
// and one broadcast A value, 15 of the 16 AVX registers, and 12 independent FMA chains (enough to cover a
// 4-5 cycle FMA latency on two FMA ports). `kc` = 256 keeps one B panel (16 KB) in a 32 KB L1; `mc` = 96 keeps
// one A block in L2.
//
// Determinism: every element of C is `c = fma(a[i,k], b[k,j], c)` (or, for the forward pass, `c + a * b`
// rounded twice) for k = 0, 1, ..., K-1 in order, starting
// from the value C holds on entry (zero, a bias, or an earlier sum). Depth blocks run in order and C is stored
// and reloaded exactly between them; a tile at the edge of C runs the same chain in a scratch tile. So the bits
// of an element depend only on its own row of A, column of B and starting value: not on the blocking, the tile
// an element falls in, nor on how callers split C between threads (they split rows or columns of C, never the
// depth k). Fused multiply-add is exact per IEEE 754 (one rounding), so the bits are the same on every machine;
// the calls are explicit (`addingProduct`), never left to compiler contraction.

/// A matrix operand of ``GEMM`` that can write any `mr`-row (as A) or `nr`-column (as B) panel of itself.
protocol GEMMOperand {
    /// As A: rows `i0..<i0+count` (count <= mr), depth `k0..<k0+depth`, written as `panel[k * mr + r]`; rows past
    /// `count` are zero.
    func packRows(_ i0: Int, count: Int, depth k0: Int, _ depth: Int, into panel: FloatPointer)
    /// As B: columns `j0..<j0+count` (count <= nr), depth `k0..<k0+depth`, written as `panel[k * nr + c]`;
    /// columns past `count` are zero.
    func packColumns(_ j0: Int, count: Int, depth k0: Int, _ depth: Int, into panel: FloatPointer)
}

/// A matrix in memory with any row and column stride: element (r, c) at `base[r * rowStride + c * columnStride]`.
/// As A, rows are C's rows and columns the depth; as B, rows are the depth and columns C's columns.
struct StridedMatrix: GEMMOperand {
    var base: ConstFloatPointer
    var rowStride: Int
    var columnStride: Int

    func packRows(_ i0: Int, count: Int, depth k0: Int, _ depth: Int, into panel: FloatPointer) {
        let mr = GEMM.mr
        if count < mr { panel.update(repeating: 0, count: depth * mr) }
        for r in 0..<count {
            var src = base + (i0 + r) * rowStride + k0 * columnStride
            var dst = panel + r
            for _ in 0..<depth {
                dst.pointee = src.pointee
                src += columnStride
                dst += mr
            }
        }
    }

    func packColumns(_ j0: Int, count: Int, depth k0: Int, _ depth: Int, into panel: FloatPointer) {
        let nr = GEMM.nr
        var dst = panel
        if count == nr && columnStride == 1 {
            var src = base + k0 * rowStride + j0
            for _ in 0..<depth {
                store8(load8(src), dst)
                store8(load8(src + 8), dst + 8)
                src += rowStride
                dst += nr
            }
            return
        }
        if count < nr { panel.update(repeating: 0, count: depth * nr) }
        for k in 0..<depth {
            let src = base + (k0 + k) * rowStride + j0 * columnStride
            for c in 0..<count { dst[c] = src[c * columnStride] }
            dst += nr
        }
    }
}

/// Packing buffers for ``GEMM/multiply(m:n:k:_:_:c:ldc:scratch:)``, one per worker thread.
final class GEMMScratch {
    let packedA: FloatPointer
    let packedB: FloatPointer
    let tile: FloatPointer
    let maxColumns: Int

    /// Room for products whose C has at most `columns` columns.
    init(columns: Int) {
        maxColumns = max(columns, 1)
        let panels = (maxColumns + GEMM.nr - 1) / GEMM.nr
        packedA = FloatPointer.allocate(capacity: GEMM.mc * GEMM.kc)
        packedB = FloatPointer.allocate(capacity: panels * GEMM.nr * GEMM.kc)
        tile = FloatPointer.allocate(capacity: GEMM.mr * GEMM.nr)
    }

    deinit {
        packedA.deallocate()
        packedB.deallocate()
        tile.deallocate()
    }
}

enum GEMM {
    /// Rows of a micro-tile (broadcast A values).
    static let mr = 6
    /// Columns of a micro-tile (two SIMD8 vectors).
    static let nr = 16
    /// Depth of a packed block.
    static let kc = 256
    /// Rows of a packed A block (a multiple of `mr`).
    static let mc = 96

    /// `C[i, j] += sum_k A[i, k] * B[k, j]` for an `m x n` C (row stride `ldc`, columns contiguous), each element
    /// a fused multiply-add chain over k in order (see the file comment).
    ///
    /// With `fused` each step is `fma(a, b, c)` (the backward products); without, `c + a * b` rounded twice (the
    /// forward pass, whose arithmetic is that of earlier versions so that recorded probes still verify).
    static func multiply<A: GEMMOperand, B: GEMMOperand>(m: Int, n: Int, k: Int, _ a: A, _ b: B, c: FloatPointer, ldc: Int,
                                                         fused: Bool, scratch: GEMMScratch) {
        precondition(n <= scratch.maxColumns, "GEMM scratch too small")
        if m == 0 || n == 0 || k == 0 { return }
        var k0 = 0
        while k0 < k {
            let depth = min(kc, k - k0)
            var j = 0
            while j < n {
                b.packColumns(j, count: min(nr, n - j), depth: k0, depth, into: scratch.packedB + (j / nr) * nr * depth)
                j += nr
            }
            var i0 = 0
            while i0 < m {
                let rows = min(mc, m - i0)
                var i = 0
                while i < rows {
                    a.packRows(i0 + i, count: min(mr, rows - i), depth: k0, depth, into: scratch.packedA + (i / mr) * mr * depth)
                    i += mr
                }
                var j = 0
                while j < n {
                    let bPanel = UnsafePointer(scratch.packedB + (j / nr) * nr * depth)
                    let columns = min(nr, n - j)
                    var i = 0
                    while i < rows {
                        let aPanel = UnsafePointer(scratch.packedA + (i / mr) * mr * depth)
                        let tileRows = min(mr, rows - i)
                        let target = c + (i0 + i) * ldc + j
                        if tileRows == mr && columns == nr {
                            fused ? microKernel(depth, aPanel, bPanel, target, ldc, Fused.self) : microKernel(depth, aPanel, bPanel, target, ldc, Unfused.self)
                        } else {
                            // An edge tile: the same chain on a full scratch tile, then the valid part copied back.
                            let t = scratch.tile
                            t.update(repeating: 0, count: mr * nr)
                            for r in 0..<tileRows { (t + r * nr).update(from: target + r * ldc, count: columns) }
                            fused ? microKernel(depth, aPanel, bPanel, t, nr, Fused.self) : microKernel(depth, aPanel, bPanel, t, nr, Unfused.self)
                            for r in 0..<tileRows { (target + r * ldc).update(from: t + r * nr, count: columns) }
                        }
                        i += mr
                    }
                    j += nr
                }
                i0 += rows
            }
            k0 += depth
        }
    }

    /// The 6 x 16 tile at `c` (row stride `ldc`) plus the product of an A panel and a B panel of `depth`.
    @inline(__always)
    static func microKernel<M: MultiplyAdd>(_ depth: Int, _ a: ConstFloatPointer, _ b: ConstFloatPointer, _ c: FloatPointer, _ ldc: Int,
                                            _: M.Type) {
        let c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc, c4 = c3 + ldc, c5 = c4 + ldc
        var t00 = load8(c), t01 = load8(c + 8)
        var t10 = load8(c1), t11 = load8(c1 + 8)
        var t20 = load8(c2), t21 = load8(c2 + 8)
        var t30 = load8(c3), t31 = load8(c3 + 8)
        var t40 = load8(c4), t41 = load8(c4 + 8)
        var t50 = load8(c5), t51 = load8(c5 + 8)
        var ap = a, bp = b
        for _ in 0..<depth {
            let b0 = load8(bp), b1 = load8(bp + 8)
            var v = SIMD8<Float>(repeating: ap[0])
            t00 = M.apply(t00, v, b0); t01 = M.apply(t01, v, b1)
            v = SIMD8(repeating: ap[1])
            t10 = M.apply(t10, v, b0); t11 = M.apply(t11, v, b1)
            v = SIMD8(repeating: ap[2])
            t20 = M.apply(t20, v, b0); t21 = M.apply(t21, v, b1)
            v = SIMD8(repeating: ap[3])
            t30 = M.apply(t30, v, b0); t31 = M.apply(t31, v, b1)
            v = SIMD8(repeating: ap[4])
            t40 = M.apply(t40, v, b0); t41 = M.apply(t41, v, b1)
            v = SIMD8(repeating: ap[5])
            t50 = M.apply(t50, v, b0); t51 = M.apply(t51, v, b1)
            ap += 6
            bp += 16
        }
        store8(t00, c); store8(t01, c + 8)
        store8(t10, c1); store8(t11, c1 + 8)
        store8(t20, c2); store8(t21, c2 + 8)
        store8(t30, c3); store8(t31, c3 + 8)
        store8(t40, c4); store8(t41, c4 + 8)
        store8(t50, c5); store8(t51, c5 + 8)
    }
}

/// One step of a product's chain: fused (`fma(a, b, c)`) or not (`c + a * b`), chosen per call of the product and
/// resolved at compile time inside the micro-kernel.
protocol MultiplyAdd { static func apply(_ c: SIMD8<Float>, _ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> }
enum Fused: MultiplyAdd {
    @inline(__always) static func apply(_ c: SIMD8<Float>, _ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { c.addingProduct(a, b) }
}
enum Unfused: MultiplyAdd {
    @inline(__always) static func apply(_ c: SIMD8<Float>, _ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { c + a * b }
}

import ConvNet

/// How one parameter moves between the NCHW layout of PyTorch and ONNX and CNNKit's (`Schemas/pytorch.md`
/// section 3, `Schemas/onnx.md` section 4): the one place both format modules take their permutations from.
public enum ParameterTransform: Sendable, Hashable {
    /// Biases: the same values.
    case identity
    /// `Conv2d.weight` / ONNX `Conv` weights `[out, in, kh, kw]` <-> `conv2d.kernel [kh, kw, in, out]`.
    case convKernel
    /// `Linear.weight` / ONNX `Gemm` `transB 1` weights `[out, in]` <-> `dense.kernel [in, out]`; after a
    /// `Flatten` of an NCHW `h x w x c` map, the input rows also move from C,H,W order to CNNKit's H,W,C order.
    case linearKernel(flattened: ActivationShape?)
    /// ONNX `Gemm` `transB 0` or `MatMul` weights `[in, out]` <-> `dense.kernel [in, out]`: only the rows move,
    /// after a `Flatten` of an NCHW map, as for ``linearKernel(flattened:)``.
    case denseKernel(flattened: ActivationShape?)

    /// `permutation[t]` is the index in CNNKit's layout of element `t` of the NCHW source's layout.
    public func permutation(nchwShape shape: [Int]) -> [Int] {
        switch self {
        case .identity:
            return Array(0..<shape.reduce(1, *))
        case .convKernel:
            let (o, i, kh, kw) = (shape[0], shape[1], shape[2], shape[3])
            var perm = [Int](repeating: 0, count: o * i * kh * kw)
            var t = 0
            for oo in 0..<o { for ii in 0..<i { for y in 0..<kh { for x in 0..<kw {
                perm[t] = ((y * kw + x) * i + ii) * o + oo
                t += 1
            } } } }
            return perm
        case let .linearKernel(flattened), let .denseKernel(flattened):
            // The source is `[o, n]` (a linear layer's weight) or `[n, o]`; its row r is CNNKit's row row[r].
            let linear = if case .linearKernel = self { true } else { false }
            let (o, n) = linear ? (shape[0], shape[1]) : (shape[1], shape[0])
            let row = Self.rows(n, flattened: flattened)
            var perm = [Int](repeating: 0, count: o * n)
            for r in 0..<n { for oo in 0..<o { perm[linear ? oo * n + r : r * o + oo] = row[r] * o + oo } }
            return perm
        }
    }

    /// `rows[r]` is CNNKit's input row of the source's row `r`: the identity, or after a `Flatten` of an NCHW
    /// `h x w x c` map (`flattened`, when it has `n` elements) the source's row `c*H*W + h*W + w` is CNNKit's
    /// row `(h*W + w)*C + c`.
    static func rows(_ n: Int, flattened: ActivationShape?) -> [Int] {
        var row = Array(0..<n)
        if let s = flattened, s.count == n {
            for c in 0..<s.channels { for h in 0..<s.height { for w in 0..<s.width {
                row[(c * s.height + h) * s.width + w] = (h * s.width + w) * s.channels + c
            } } }
        }
        return row
    }

    /// The NCHW source's values in CNNKit's layout. Identity moves return `values` itself; the others write
    /// each element straight to its place (no index array as large as the tensor is built).
    public func toCNNKit(_ values: [Float], nchwShape shape: [Int]) -> [Float] {
        move(values, nchwShape: shape, toCNNKit: true)
    }

    /// CNNKit's values in the NCHW source's layout.
    public func toNCHW(_ values: [Float], nchwShape shape: [Int]) -> [Float] {
        move(values, nchwShape: shape, toCNNKit: false)
    }

    /// Element `t` of the source's layout is element `permutation[t]` of CNNKit's (``permutation(nchwShape:)``),
    /// computed per element.
    private func move(_ values: [Float], nchwShape shape: [Int], toCNNKit: Bool) -> [Float] {
        let count = shape.reduce(1, *)
        guard values.count == count else { return [Float](repeating: 0, count: count) }
        if case .identity = self { return values }
        if case let .denseKernel(flattened) = self, flattened?.count != shape[0] { return values }
        // Allocated only for a move that is not the identity.
        var out = [Float](repeating: 0, count: count)
        func put(_ source: Int, _ ours: Int) {
            if toCNNKit { out[ours] = values[source] } else { out[source] = values[ours] }
        }
        switch self {
        case .identity:
            return values
        case .convKernel:
            let (o, i, kh, kw) = (shape[0], shape[1], shape[2], shape[3])
            var t = 0
            for oo in 0..<o { for ii in 0..<i { for y in 0..<kh { for x in 0..<kw {
                put(t, ((y * kw + x) * i + ii) * o + oo)
                t += 1
            } } } }
        case let .linearKernel(flattened):
            let (o, n) = (shape[0], shape[1])
            let row = Self.rows(n, flattened: flattened)
            for oo in 0..<o { for r in 0..<n { put(oo * n + r, row[r] * o + oo) } }
        case let .denseKernel(flattened):
            guard let flattened, flattened.count == shape[0] else { return values }
            let (n, o) = (shape[0], shape[1])
            let row = Self.rows(n, flattened: flattened)
            for r in 0..<n { for oo in 0..<o { put(r * o + oo, row[r] * o + oo) } }
        }
        return out
    }
}

/// Scratch memory for running one sample at a time through a network: activations, their gradients, pooling
/// winners and (parameter gradients go to a buffer the caller passes). One per worker thread; never shared.
final class Workspace {
    let activations: [FloatPointer]
    let activationCounts: [Int]
    let gradients: [FloatPointer]
    let argmax: [UnsafeMutablePointer<Int32>?]
    /// Per convolution: the zero-padded input (when padded), the padded input gradient, the gradient of the
    /// im2col matrix (positions x taps).
    let padded: [FloatPointer?]
    let paddedGradient: [FloatPointer?]
    let colGradient: [FloatPointer?]
    /// Packing buffers of the convolution products.
    let gemm: GEMMScratch

    convenience init(network: Network) {
        self.init(shapes: network.shapes, operations: network.operations)
    }

    /// Scratch memory for a network resolved as `shapes` and `operations` (see ``NetworkPlan``).
    init(shapes: [ActivationShape], operations: [Operation]) {
        activationCounts = shapes.map(\.count)
        activations = activationCounts.map { FloatPointer.allocate(capacity: max($0, 1)) }
        gradients = activationCounts.map { FloatPointer.allocate(capacity: max($0, 1)) }
        argmax = operations.enumerated().map { index, op in
            if case .maxPool = op {
                let p = UnsafeMutablePointer<Int32>.allocate(capacity: max(shapes[index + 1].count, 1))
                return p
            }
            return nil
        }
        func scratch(_ count: (ConvPlan) -> Int?) -> [FloatPointer?] {
            operations.map { op in
                guard case let .conv(plan, _, _) = op, let n = count(plan) else { return nil }
                let p = FloatPointer.allocate(capacity: max(n, 1))
                p.initialize(repeating: 0, count: max(n, 1))
                return p
            }
        }
        padded = scratch { $0.isPadded ? $0.paddedCount : nil }
        paddedGradient = scratch { $0.isPadded ? $0.paddedCount : nil }
        colGradient = scratch { $0.positionCount * $0.tapCount }
        // The widest C of any product: cout (forward, kernel gradient) or the taps (input gradient).
        gemm = GEMMScratch(columns: operations.reduce(1) { widest, op in
            guard case let .conv(plan, _, _) = op else { return widest }
            return max(widest, plan.window.outChannels, plan.tapCount)
        })
        for (p, n) in zip(activations, activationCounts) { p.initialize(repeating: 0, count: max(n, 1)) }
        for (p, n) in zip(gradients, activationCounts) { p.initialize(repeating: 0, count: max(n, 1)) }
    }

    deinit {
        activations.forEach { $0.deallocate() }
        gradients.forEach { $0.deallocate() }
        argmax.forEach { $0?.deallocate() }
        (padded + paddedGradient + colGradient).forEach { $0?.deallocate() }
    }
}

extension Network {
    /// Writes `pixel * scale + offset` for one image into the workspace's input activation.
    @inline(__always)
    func loadInput<T: BinaryInteger>(_ pixels: UnsafePointer<T>, into ws: Workspace) {
        let s = architecture.preprocessing.scale, o = architecture.preprocessing.offset
        let x = ws.activations[0]
        for i in 0..<inputCount { x[i] = Float(pixels[i]) * s + o }
    }

    /// Writes `value * scale + offset` for one image of float pixels.
    @inline(__always)
    func loadInput(_ pixels: UnsafePointer<Float>, into ws: Workspace) {
        let s = architecture.preprocessing.scale, o = architecture.preprocessing.offset
        let x = ws.activations[0]
        for i in 0..<inputCount { x[i] = pixels[i] * s + o }
    }

    /// Runs the loaded input through every layer; activations stay in the workspace.
    func forward(_ ws: Workspace, parameters w: UnsafePointer<Float>) {
        for (index, op) in operations.enumerated() {
            let (weights, bias) = op.parameterOffsets
            Network.forwardLayer(op, index: index, ws, weights: weights.map { w + $0 }, bias: bias.map { w + $0 })
        }
    }

    /// Runs layer `index` on the workspace's activation `index`, writing activation `index + 1`. `weights`
    /// points at the layer's kernel in the internal layout (conv `[kh, kw, in, out]`, dense `[out, in]`) and
    /// `bias` at its bias; both are ignored by layers without parameters, and a conv or dense layer without a
    /// kernel leaves its output untouched (callers always pass one).
    @inline(__always)
    static func forwardLayer(_ op: Operation, index: Int, _ ws: Workspace, weights: ConstFloatPointer?, bias: ConstFloatPointer?) {
        let input = UnsafePointer(ws.activations[index]), output = ws.activations[index + 1]
        switch op {
        case let .conv(plan, _, _):
            guard let weights else { return }
            var source = input
            if let padded = ws.padded[index] {
                plan.pad(input, into: padded)
                source = UnsafePointer(padded)
            }
            Kernels.convForward(plan, input: source, weights: weights, bias: bias, output: output, scratch: ws.gemm)
        case let .relu(count):
            Kernels.reluForward(count: count, input: input, output: output)
        case let .maxPool(plan):
            guard let argmax = ws.argmax[index] else { return }
            if plan.inChannels % 8 == 0 {
                Kernels.maxPoolForwardFast(plan, input: input, output: output, argmax: argmax)
            } else {
                Kernels.maxPoolForward(plan, input: input, output: output, argmax: argmax)
            }
        case let .flatten(count):
            output.update(from: input, count: count)
        case let .dense(inCount, outCount, _, _):
            guard let weights else { return }
            Kernels.denseForward(inCount: inCount, outCount: outCount, input: input, weights: weights, bias: bias, output: output)
        case let .softmax(count):
            Kernels.softmax(count: count, input: input, output: output)
        }
    }

    /// The loss of the last forward pass for `label`; requires a softmax last layer.
    func loss(_ ws: Workspace, label: Int) -> Float {
        let last = operations.count - 1
        return Kernels.crossEntropy(count: outputCount, logits: ws.activations[last], label: label)
    }

    /// Back-propagates softmax cross-entropy for `label`, scaled by `scale` (1 / batch size), and accumulates the
    /// parameter gradients into `gw` (internal layout). Requires a forward pass just before.
    func backward(_ ws: Workspace, label: Int, scale: Float, parameters w: UnsafePointer<Float>, gradient gw: FloatPointer) {
        let last = operations.count - 1
        // d loss / d logits = (p - onehot) * scale, placed as the gradient of the softmax input.
        let probabilities = ws.activations[last + 1]
        let dLogits = ws.gradients[last]
        for i in 0..<outputCount { dLogits[i] = (probabilities[i] - (i == label ? 1 : 0)) * scale }
        var index = last - 1
        while index >= 0 {
            let input = UnsafePointer(ws.activations[index])
            let gOut = UnsafePointer(ws.gradients[index + 1])
            let gIn: FloatPointer? = index > 0 ? ws.gradients[index] : nil
            switch operations[index] {
            case let .conv(plan, weights, bias):
                let source = ws.padded[index].map { UnsafePointer($0) } ?? input
                Kernels.convWeightGradient(plan, input: source, outputGradient: gOut, weightGradient: gw + weights,
                                           biasGradient: bias.map { gw + $0 }, scratch: ws.gemm)
                if let gIn, let colGradient = ws.colGradient[index] {
                    let dp = ws.paddedGradient[index] ?? gIn
                    Kernels.convInputGradient(plan, weights: w + weights, outputGradient: gOut, colGradient: colGradient,
                                              paddedGradient: dp, scratch: ws.gemm)
                    if dp != gIn { plan.crop(dp, into: gIn) }
                }
            case let .relu(count):
                if let gIn { Kernels.reluBackward(count: count, input: input, outputGradient: gOut, inputGradient: gIn) }
            case let .maxPool(plan):
                if let gIn {
                    Kernels.maxPoolBackward(inputCount: plan.inHeight * plan.inWidth * plan.inChannels,
                                            outputCount: plan.outHeight * plan.outWidth * plan.outChannels,
                                            outputGradient: gOut, argmax: ws.argmax[index]!, inputGradient: gIn)
                }
            case let .flatten(count):
                gIn?.update(from: gOut, count: count)
            case let .dense(inCount, outCount, weights, bias):
                Kernels.denseBackward(inCount: inCount, outCount: outCount, input: input, weights: w + weights, outputGradient: gOut,
                                      weightGradient: gw + weights, biasGradient: bias.map { gw + $0 }, inputGradient: gIn)
            case .softmax:
                break // handled together with the loss above
            }
            index -= 1
        }
    }
}

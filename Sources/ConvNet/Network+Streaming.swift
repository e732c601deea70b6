extension Network {
    /// Runs a small batch of raw-pixel images through an architecture layer by layer, fetching each layer's
    /// parameters through `parameter` just before the layer runs and dropping them right after, so that at most
    /// one layer's parameters are in memory at a time (the activations of a few probe images are small).
    ///
    /// The results are bitwise those of ``predict(_:threads:)`` on a network holding the same parameters: the
    /// same kernels run in the same order; dense kernels are used in the exchange layout `[in, out]` as fetched
    /// (no transposed copy), summed in the order ``predict(_:threads:)`` sums its `[out, in]` rows.
    ///
    /// - Parameters:
    ///   - architecture: the model.
    ///   - inputs: N x H x W x C raw pixels, flat.
    ///   - parameter: returns the tensor for a parameter in the exchange layout; called once per parameter, in
    ///     ``Architecture/parameterSpecs()`` order.
    ///   - layerOutputs: called after the input is preprocessed (index 0) and after each layer `i` (index
    ///     `i + 1`) with that activation of every image, as ``layerOutputs(_:)`` numbers them.
    /// - Returns: one row of outputs per image.
    /// - Throws: ``ConvNetError/invalidArchitecture(layer:reason:)``, ``ConvNetError/shapeMismatch(name:expected:found:)``
    ///   for inputs or a fetched tensor of the wrong shape, or what `parameter` throws.
    public static func predictStreaming(architecture: Architecture, inputs: [Float],
                                        parameter: (ParameterSpec) throws -> Tensor,
                                        layerOutputs: ((Int, [[Float]]) -> Void)? = nil) throws -> [Float] {
        try predictStreaming(architecture: architecture, inputs: inputs, view: { TensorView(try parameter($0)) }, layerOutputs: layerOutputs)
    }

    /// ``predictStreaming(architecture:inputs:parameter:layerOutputs:)`` on parameters given as views, which may
    /// borrow memory (a mapped model file): the parameters are used where they lie, never copied.
    public static func predictStreaming(architecture: Architecture, inputs: [Float],
                                        view parameter: (ParameterSpec) throws -> TensorView,
                                        layerOutputs: ((Int, [[Float]]) -> Void)? = nil) throws -> [Float] {
        let plan = try NetworkPlan(architecture: architecture)
        let inCount = plan.shapes[0].count, outCount = plan.shapes[plan.shapes.count - 1].count
        let n = inputs.count / max(inCount, 1)
        guard n * inCount == inputs.count else {
            throw ConvNetError.shapeMismatch(name: "input", expected: [-1] + plan.shapes[0].dimensions, found: [inputs.count])
        }
        let workspaces = (0..<n).map { _ in Workspace(shapes: plan.shapes, operations: plan.operations) }
        let scale = architecture.preprocessing.scale, offset = architecture.preprocessing.offset
        for (i, ws) in workspaces.enumerated() {
            let x = ws.activations[0]
            for k in 0..<inCount { x[k] = inputs[i * inCount + k] * scale + offset }
        }
        func report(_ index: Int) {
            guard let layerOutputs else { return }
            layerOutputs(index, workspaces.map { Array(UnsafeBufferPointer(start: $0.activations[index], count: $0.activationCounts[index])) })
        }
        report(0)
        for (index, op) in plan.operations.enumerated() {
            let kernelSlot = plan.slots.first { $0.spec.layerIndex == index && !$0.spec.isBias }
            let biasSlot = plan.slots.first { $0.spec.layerIndex == index && $0.spec.isBias }
            let kernel = try kernelSlot.map { try fetch($0.spec, parameter) }
            let bias = try biasSlot.map { try fetch($0.spec, parameter) }
            withPointers(kernel, bias) { w, b in
                if case let .dense(inCount, outCount, _, _) = op, let w {
                    Kernels.denseForwardExchange(inCount: inCount, outCount: outCount,
                                                 inputs: workspaces.map { UnsafePointer($0.activations[index]) },
                                                 weights: w, bias: b, outputs: workspaces.map { $0.activations[index + 1] })
                } else {
                    for ws in workspaces { forwardLayer(op, index: index, ws, weights: w, bias: b) }
                }
            }
            report(index + 1)
        }
        var output = [Float](repeating: 0, count: n * outCount)
        for (i, ws) in workspaces.enumerated() {
            for k in 0..<outCount { output[i * outCount + k] = ws.activations[plan.operations.count][k] }
        }
        return output
    }

    /// Class probabilities of any number of images, computed from parameter views `batchSize` images at a time
    /// (memory: the activations of one batch, besides the parameters), bitwise those of ``predict(_:threads:)``.
    /// With views borrowed from a mapped file, the weights are read where they lie: nothing is copied.
    ///
    /// - Parameters:
    ///   - architecture: the model's architecture.
    ///   - inputs: N x H x W x C raw pixels, flat.
    ///   - batchSize: images run through the network together.
    ///   - threads: batches run on up to this many threads at once (each batch's output goes to its own rows).
    ///   - parameter: a view of a parameter in the exchange layout; called once per parameter.
    /// - Returns: N x outputs probabilities, flat.
    /// - Throws: as ``predictStreaming(architecture:inputs:view:layerOutputs:)``.
    public static func predict(architecture: Architecture, inputs: [Float], batchSize: Int = 64, threads: Int = 1,
                               view parameter: (ParameterSpec) throws -> TensorView) throws -> [Float] {
        let shapes = try architecture.activationShapes()
        let inCount = shapes[0].count, outCount = shapes[shapes.count - 1].count
        guard inCount > 0, inputs.count % inCount == 0 else {
            throw ConvNetError.shapeMismatch(name: "input", expected: [-1, inCount], found: [inputs.count])
        }
        let n = inputs.count / inCount, batch = max(batchSize, 1)
        // The views are fetched once, here, and shared read-only by the threads.
        var views: [String: TensorView] = [:]
        for spec in try architecture.parameterSpecs() { views[spec.name] = try parameter(spec) }
        let batches = (n + batch - 1) / batch
        var output = [Float](repeating: 0, count: n * outCount)
        var failures = [(any Error)?](repeating: nil, count: batches)
        let workers = min(max(threads, 1), batches)
        output.withUnsafeMutableBufferPointer { out in
            failures.withUnsafeMutableBufferPointer { failed in
                let shared = UncheckedSendable((out, failed, views))
                // Batches are taken by whichever worker is free (each image's output is the same on any).
                runTasks(batches, workers: workers) { _, b in
                    let (out, failed, views) = shared.value
                    do {
                        let start = b * batch, end = min(n, start + batch)
                        let rows = try predictStreaming(architecture: architecture, inputs: Array(inputs[(start * inCount)..<(end * inCount)]),
                                                        view: { spec in
                            guard let view = views[spec.name] else { throw ConvNetError.missingParameter(name: spec.name) }
                            return view
                        })
                        for (k, value) in rows.enumerated() { out[start * outCount + k] = value }
                    } catch {
                        failed[b] = error
                    }
                }
            }
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
        return output
    }

    /// Fetches one parameter and checks its shape.
    private static func fetch(_ spec: ParameterSpec, _ parameter: (ParameterSpec) throws -> TensorView) throws -> TensorView {
        let tensor = try parameter(spec)
        guard tensor.shape == spec.shape, Tensor.elementCount(spec.shape) == tensor.count else {
            throw ConvNetError.shapeMismatch(name: spec.name, expected: spec.shape, found: tensor.shape)
        }
        return tensor
    }

    /// Runs `body` with pointers to the values of two optional tensors.
    private static func withPointers(_ a: TensorView?, _ b: TensorView?, _ body: (ConstFloatPointer?, ConstFloatPointer?) throws -> Void) rethrows {
        func with(_ t: TensorView?, _ inner: (ConstFloatPointer?) throws -> Void) rethrows {
            guard let t else { return try inner(nil) }
            try t.withUnsafeBufferPointer { try inner($0.baseAddress) }
        }
        try with(a) { pa in try with(b) { pb in try body(pa, pb) } }
    }
}

extension Kernels {
    /// `out[j] = b[j] + sum_i x[i] * W[i, j]` with `W` in the exchange layout `[in, out]`, for several inputs.
    ///
    /// Bitwise equal to ``denseForward(inCount:outCount:input:weights:bias:output:)`` on the transposed kernel:
    /// for each output the products go into 8 lanes by `i mod 8`, the lanes are added as ``dot(_:_:_:)`` adds
    /// them, then the tail in order, then the bias. Eight outputs are computed at once from contiguous kernel
    /// rows; blocks of outputs are split over two workers (disjoint outputs, so the split changes nothing).
    static func denseForwardExchange(inCount: Int, outCount: Int, inputs: [ConstFloatPointer], weights: ConstFloatPointer,
                                     bias: ConstFloatPointer?, outputs: [FloatPointer]) {
        let blocks = (outCount + 7) / 8
        let workers = blocks >= 64 ? 2 : 1
        let shared = UncheckedSendable((inputs, outputs, weights, bias))
        runWorkers(workers) { worker in
            let (inputs, outputs, w, bias) = shared.value
            for block in (blocks * worker / workers)..<(blocks * (worker + 1) / workers) {
                let j = block * 8
                for (x, out) in zip(inputs, outputs) {
                    if j + 8 <= outCount {
                        denseBlock8(inCount: inCount, outCount: outCount, column: j, x: x, w: w, bias: bias, out: out)
                    } else {
                        for column in j..<outCount {
                            denseColumn(inCount: inCount, outCount: outCount, column: column, x: x, w: w, bias: bias, out: out)
                        }
                    }
                }
            }
        }
    }

    /// Outputs `column..<column + 8`.
    @inline(__always)
    private static func denseBlock8(inCount: Int, outCount: Int, column j: Int, x: ConstFloatPointer, w: ConstFloatPointer,
                                    bias: ConstFloatPointer?, out: FloatPointer) {
        var a0 = SIMD8<Float>(repeating: 0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0
        var i = 0
        var row = w + j
        let step = outCount
        while i + 8 <= inCount {
            a0 += load8(row) * SIMD8(repeating: x[i])
            a1 += load8(row + step) * SIMD8(repeating: x[i + 1])
            a2 += load8(row + 2 * step) * SIMD8(repeating: x[i + 2])
            a3 += load8(row + 3 * step) * SIMD8(repeating: x[i + 3])
            a4 += load8(row + 4 * step) * SIMD8(repeating: x[i + 4])
            a5 += load8(row + 5 * step) * SIMD8(repeating: x[i + 5])
            a6 += load8(row + 6 * step) * SIMD8(repeating: x[i + 6])
            a7 += load8(row + 7 * step) * SIMD8(repeating: x[i + 7])
            row += 8 * step
            i += 8
        }
        var s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
        while i < inCount {
            s += load8(row) * SIMD8(repeating: x[i])
            row += step
            i += 1
        }
        if let bias { s = load8(bias + j) + s }
        store8(s, out + j)
    }

    /// One output column, for the last `outCount % 8` outputs.
    @inline(__always)
    private static func denseColumn(inCount: Int, outCount: Int, column j: Int, x: ConstFloatPointer, w: ConstFloatPointer,
                                    bias: ConstFloatPointer?, out: FloatPointer) {
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= inCount {
            var products = SIMD8<Float>(repeating: 0)
            for l in 0..<8 { products[l] = w[(i + l) * outCount + j] * x[i + l] }
            acc += products
            i += 8
        }
        var s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
        while i < inCount {
            s += w[i * outCount + j] * x[i]
            i += 1
        }
        out[j] = bias.map { $0[j] + s } ?? s
    }
}

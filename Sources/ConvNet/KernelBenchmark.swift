/// Timing of the convolution products alone, for `cnnkit-bench --kernels` (not part of the public API).
@_spi(Benchmarks)
public enum KernelBenchmark {
    /// Seconds per call of the forward, kernel-gradient and input-gradient products of one 3x3 valid
    /// convolution on one `height x width x inChannels` sample, single-threaded, best of `repeats` timed loops.
    public static func convolution(height: Int, width: Int, inChannels: Int, outChannels: Int, calls: Int = 200,
                                   repeats: Int = 3) throws -> (forward: Double, weightGradient: Double, inputGradient: Double, multiplyAdds: Int) {
        let architecture = Architecture(input: .init(height: height, width: width, channels: inChannels),
                                        kinds: [.conv2d(Conv2DSpec(filters: outChannels, kernel: [3, 3], bias: true))])
        let plan = try NetworkPlan(architecture: architecture)
        guard case let .conv(conv, _, _) = plan.operations[0] else { preconditionFailure("a convolution") }
        let ws = Workspace(shapes: plan.shapes, operations: plan.operations)
        var rng = RandomGenerator(seed: 1)
        let input = (0..<plan.shapes[0].count).map { _ in Float(rng.nextGaussian()) }
        let weights = (0..<conv.tapCount * outChannels).map { _ in Float(rng.nextGaussian()) * 0.1 }
        let bias = [Float](repeating: 0.1, count: outChannels)
        let gradient = (0..<plan.shapes[1].count).map { _ in Float(rng.nextGaussian()) }
        var weightGradient = [Float](repeating: 0, count: weights.count), biasGradient = bias
        let clock = ContinuousClock()
        func best(_ body: () -> Void) -> Double {
            var fastest = Double.infinity
            for _ in 0..<repeats {
                let start = clock.now
                for _ in 0..<calls { body() }
                let d = (clock.now - start).components
                fastest = min(fastest, (Double(d.seconds) + Double(d.attoseconds) * 1e-18) / Double(calls))
            }
            return fastest
        }
        let output = ws.activations[1], colGradient = ws.colGradient[0]!, inputGradient = ws.gradients[0]
        return input.withUnsafeBufferPointer { x in
            weights.withUnsafeBufferPointer { w in
                bias.withUnsafeBufferPointer { b in
                    gradient.withUnsafeBufferPointer { g in
                        weightGradient.withUnsafeMutableBufferPointer { dw in
                            biasGradient.withUnsafeMutableBufferPointer { db in
                                let forward = best {
                                    Kernels.convForward(conv, input: x.baseAddress!, weights: w.baseAddress!, bias: b.baseAddress!,
                                                        output: output, scratch: ws.gemm)
                                }
                                let weightGradient = best {
                                    Kernels.convWeightGradient(conv, input: x.baseAddress!, outputGradient: g.baseAddress!,
                                                               weightGradient: dw.baseAddress!, biasGradient: db.baseAddress!, scratch: ws.gemm)
                                }
                                let inputGradient = best {
                                    Kernels.convInputGradient(conv, weights: w.baseAddress!, outputGradient: g.baseAddress!,
                                                              colGradient: colGradient, paddedGradient: inputGradient, scratch: ws.gemm)
                                }
                                return (forward, weightGradient, inputGradient, conv.positionCount * conv.tapCount * outChannels)
                            }
                        }
                    }
                }
            }
        }
    }
}

import Testing
@testable import ConvNet

/// The direct kernels (few taps) and the packed GEMM must give the same bits, so that which one runs never
/// changes a result.
@Suite("Convolution kernel paths give the same bits")
struct ConvKernelPathTests {
    /// Shapes the direct kernels take: T = kh * kw * cin <= 16 and output channels a multiple of 8 (16-, 8- and
    /// mixed-wide blocks, row remainders of 1 to 3 positions, strides, padding).
    static let cases: [ConvCase] = [
        ConvCase(h: 28, w: 28, cin: 1, filters: 16, kernel: [3, 3], stride: [1, 1], padding: .valid, bias: false),
        ConvCase(h: 28, w: 28, cin: 1, filters: 32, kernel: [3, 3], stride: [1, 1], padding: .same, bias: true),
        ConvCase(h: 9, w: 7, cin: 2, filters: 8, kernel: [2, 3], stride: [2, 1], padding: .same, bias: true),
        ConvCase(h: 6, w: 10, cin: 2, filters: 24, kernel: [3, 1], stride: [1, 3], padding: .same, bias: false),
        ConvCase(h: 11, w: 9, cin: 1, filters: 40, kernel: [4, 4], stride: [2, 2], padding: .valid, bias: true),
        ConvCase(h: 5, w: 6, cin: 16, filters: 16, kernel: [1, 1], stride: [1, 1], padding: .valid, bias: true),
    ]

    @Test("forward and kernel gradient: direct == GEMM", arguments: cases)
    func sameBits(_ c: ConvCase) throws {
        let arch = Architecture(input: .init(height: c.h, width: c.w, channels: c.cin),
                                kinds: [.conv2d(Conv2DSpec(filters: c.filters, kernel: c.kernel, stride: c.stride, padding: c.padding, bias: c.bias))])
        let plan = try NetworkPlan(architecture: arch)
        guard case let .conv(conv, _, _) = plan.operations[0] else { Issue.record("expected a convolution"); return }
        #expect(Kernels.usesDirectKernels(conv))
        var r = TestRandom(UInt64(c.h * 7 + c.filters))
        let input = (0..<conv.paddedCount).map { _ in r.float() }
        let weights = (0..<conv.tapCount * c.filters).map { _ in r.float(0.3) }
        let bias = (0..<c.filters).map { _ in r.float() }
        let g = (0..<conv.positionCount * c.filters).map { _ in r.float() }
        let start = (0..<weights.count).map { _ in r.float() }
        let scratch = GEMMScratch(columns: max(c.filters, conv.tapCount))
        var directOut = [Float](repeating: .nan, count: conv.positionCount * c.filters), gemmOut = directOut
        var directDW = start, gemmDW = start
        input.withUnsafeBufferPointer { x in
            weights.withUnsafeBufferPointer { w in
                bias.withUnsafeBufferPointer { b in
                    g.withUnsafeBufferPointer { gp in
                        let biasPointer = c.bias ? b.baseAddress : nil
                        directOut.withUnsafeMutableBufferPointer {
                            Kernels.convForwardDirect(conv, input: x.baseAddress!, weights: w.baseAddress!, bias: biasPointer, output: $0.baseAddress!)
                        }
                        gemmOut.withUnsafeMutableBufferPointer {
                            Kernels.convForwardGEMM(conv, input: x.baseAddress!, weights: w.baseAddress!, bias: biasPointer,
                                                    output: $0.baseAddress!, scratch: scratch)
                        }
                        directDW.withUnsafeMutableBufferPointer {
                            Kernels.convWeightGradientDirect(conv, input: x.baseAddress!, outputGradient: gp.baseAddress!, weightGradient: $0.baseAddress!)
                        }
                        gemmDW.withUnsafeMutableBufferPointer {
                            Kernels.convWeightGradientGEMM(conv, input: x.baseAddress!, outputGradient: gp.baseAddress!,
                                                           weightGradient: $0.baseAddress!, scratch: scratch)
                        }
                    }
                }
            }
        }
        #expect(directOut.map(\.bitPattern) == gemmOut.map(\.bitPattern))
        #expect(directDW.map(\.bitPattern) == gemmDW.map(\.bitPattern))
        #expect(directDW != start)
    }
}

import Testing
@testable import ConvNet

struct ConvCase: CustomStringConvertible, Sendable {
    var h: Int, w: Int, cin: Int, filters: Int, kernel: [Int], stride: [Int], padding: Padding, bias: Bool
    var description: String { "\(h)x\(w)x\(cin) -> \(filters) k\(kernel) s\(stride) \(padding.rawValue)\(bias ? " bias" : "")" }
}

/// Shapes exercising both kernels (16-, 8-wide and generic channel counts), row remainders, strides, padding.
let convCases: [ConvCase] = [
    ConvCase(h: 28, w: 28, cin: 1, filters: 16, kernel: [3, 3], stride: [1, 1], padding: .valid, bias: false),
    ConvCase(h: 13, w: 13, cin: 16, filters: 32, kernel: [3, 3], stride: [1, 1], padding: .valid, bias: true),
    ConvCase(h: 9, w: 7, cin: 3, filters: 8, kernel: [2, 3], stride: [2, 1], padding: .same, bias: true),
    ConvCase(h: 6, w: 10, cin: 2, filters: 24, kernel: [3, 1], stride: [1, 3], padding: .same, bias: false),
    ConvCase(h: 5, w: 5, cin: 4, filters: 5, kernel: [3, 3], stride: [1, 1], padding: .same, bias: true),
    ConvCase(h: 11, w: 6, cin: 1, filters: 3, kernel: [5, 2], stride: [2, 2], padding: .valid, bias: false),
    ConvCase(h: 4, w: 4, cin: 1, filters: 16, kernel: [4, 4], stride: [1, 1], padding: .valid, bias: true),
    // Channel counts of real networks: several GEMM panels of 6 x 16, edge tiles, depth past one 256 block.
    ConvCase(h: 13, w: 13, cin: 32, filters: 64, kernel: [3, 3], stride: [1, 1], padding: .valid, bias: true),
    ConvCase(h: 7, w: 6, cin: 64, filters: 128, kernel: [3, 3], stride: [1, 1], padding: .same, bias: true),
    ConvCase(h: 6, w: 7, cin: 128, filters: 32, kernel: [3, 3], stride: [2, 2], padding: .same, bias: false),
    ConvCase(h: 5, w: 5, cin: 32, filters: 20, kernel: [2, 2], stride: [1, 1], padding: .valid, bias: true),
]

@Suite("Convolution and pooling against naive references")
struct ConvolutionTests {
    @Test("conv forward equals the naive 6-loop float64 reference", arguments: convCases)
    func convForward(_ c: ConvCase) throws {
        let arch = Architecture(input: .init(height: c.h, width: c.w, channels: c.cin), preprocessing: Preprocessing(scale: 1 / 255, offset: -0.5),
                                kinds: [.conv2d(Conv2DSpec(filters: c.filters, kernel: c.kernel, stride: c.stride, padding: c.padding, bias: c.bias))])
        var r = TestRandom(UInt64(c.h * 131 + c.w * 17 + c.filters))
        var network = try Network(architecture: arch)
        network.randomize(&r, scale: 0.5)
        let pixels = r.pixels(network.inputCount)
        let ours = try network.layerOutputs(pixels)[1]
        let reference = Reference.forward(arch, params: network.parameterDictionary, pixels: pixels)[1]
        #expect(ours.count == reference.v.count)
        #expect(network.shapes[1].height == reference.h && network.shapes[1].width == reference.w)
        for (a, b) in zip(ours, reference.v) {
            #expect(abs(Double(a) - b) <= 1e-5 * max(1, abs(b)), "ours \(a), reference \(b)")
        }
    }

    @Test("max pooling floors odd sizes: 27 -> 13, 26 -> 13, 5 -> 2")
    func oddSizes() throws {
        for (n, expected) in [(27, 13), (26, 13), (5, 2)] {
            let arch = Architecture(input: .init(height: n, width: n, channels: 1), kinds: [.maxPool2d(MaxPool2DSpec())])
            #expect(try arch.outputShape().height == expected)
            #expect(try arch.outputShape().width == expected)
        }
    }

    @Test("max pooling: the forward pass matches the reference and ties send the gradient to the first maximum",
          arguments: [1, 8, 16])
    func ties(channels: Int) throws {
        // A 5x5 image of all-equal values except one larger pixel: every window but one is a tie.
        let arch = Architecture(input: .init(height: 5, width: 5, channels: channels), preprocessing: Preprocessing(scale: 1, offset: 0),
                                kinds: [.maxPool2d(MaxPool2DSpec()), .flatten, .dense(DenseSpec(units: 2)), .softmax])
        var network = try Network(architecture: arch)
        var r = TestRandom(3)
        network.randomize(&r)
        var pixels = [Float](repeating: 7, count: 25 * channels)
        pixels[(1 * 5 + 1) * channels] = 9 // window (0, 0) of channel 0 has a unique maximum at (1, 1)
        let outputs = try network.layerOutputs(pixels)
        let reference = Reference.forward(arch, params: network.parameterDictionary, pixels: pixels)
        #expect(outputs[1].map(Double.init) == reference[1].v)
        // The gradient reaching the pooling input: check through the workspace directly.
        let ws = Workspace(network: network)
        var g = [Float](repeating: 0, count: network.flatParameters.count)
        network.flatParameters.withUnsafeBufferPointer { w in
            g.withUnsafeMutableBufferPointer { gp in
                pixels.withUnsafeBufferPointer { network.loadInput($0.baseAddress!, into: ws) }
                network.forward(ws, parameters: w.baseAddress!)
                // Make the pool layer not the first so that its input gradient is computed: call the kernel directly.
                _ = gp
            }
        }
        let plan: WindowPlan
        guard case let .maxPool(p) = network.operations[0] else { Issue.record("expected a pooling operation"); return }
        plan = p
        let outCount = plan.outHeight * plan.outWidth * plan.outChannels, inCount = 25 * channels
        var dOut = [Float](repeating: 1, count: outCount)
        var dIn = [Float](repeating: -1, count: inCount)
        dOut.withUnsafeMutableBufferPointer { o in
            dIn.withUnsafeMutableBufferPointer { i in
                Kernels.maxPoolBackward(inputCount: inCount, outputCount: outCount, outputGradient: o.baseAddress!,
                                        argmax: ws.argmax[0]!, inputGradient: i.baseAddress!)
            }
        }
        for c in 0..<channels {
            for y in 0..<5 {
                for x in 0..<5 {
                    let value = dIn[(y * 5 + x) * channels + c]
                    // Windows start at (0,0), (0,2), (2,0), (2,2); row 4 and column 4 are floored away.
                    let winner: Bool
                    if c == 0 && y == 1 && x == 1 { winner = true }
                    else if c == 0 && y < 2 && x < 2 { winner = false }
                    else { winner = y % 2 == 0 && x % 2 == 0 && y < 4 && x < 4 }
                    #expect(value == (winner ? 1 : 0), "channel \(c) (\(y), \(x))")
                }
            }
        }
    }

    @Test("softmax and cross-entropy stay finite for huge logits")
    func softmaxStability() {
        let logits: [Float] = [1000, -1000, 999, 0, 3.4e38]
        var out = [Float](repeating: 0, count: logits.count)
        logits.withUnsafeBufferPointer { l in
            out.withUnsafeMutableBufferPointer { o in Kernels.softmax(count: l.count, input: l.baseAddress!, output: o.baseAddress!) }
        }
        #expect(out.allSatisfy { $0.isFinite && $0 >= 0 })
        #expect(abs(out.reduce(0, +) - 1) < 1e-6)
        #expect(out[4] == 1)
        let small: [Float] = [1000, -1000, 999]
        let loss = small.withUnsafeBufferPointer { Kernels.crossEntropy(count: 3, logits: $0.baseAddress!, label: 2) }
        #expect(loss.isFinite)
        #expect(abs(Double(loss) - 1.3132616) < 1e-4) // log(1 + e) for logits (1000, 999)
        let far = small.withUnsafeBufferPointer { Kernels.crossEntropy(count: 3, logits: $0.baseAddress!, label: 1) }
        #expect(abs(far - 2000.3133) < 1e-2) // 1000 + log(1 + e^-1) + 1000
    }
}

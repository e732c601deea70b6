import ConvNet
import Foundation
import ModelArchive
import Testing
@testable import InteropONNX

@Suite("protobuf wire encoding")
struct ProtobufWriterTests {
    @Test("varints, keys and length-delimited fields (the protobuf encoding guide's examples)")
    func wire() {
        var w = ProtobufWriter()
        w.int(1, 150)
        #expect(w.bytes == [0x08, 0x96, 0x01])
        w = ProtobufWriter()
        w.string(2, "testing")
        #expect(w.bytes == [0x12, 0x07] + Array("testing".utf8))
        w = ProtobufWriter()
        w.int(1, -1)
        #expect(w.bytes == [0x08] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
        w = ProtobufWriter()
        w.message(3) { $0.int(1, 150) }
        #expect(w.bytes == [0x1A, 0x03, 0x08, 0x96, 0x01])
        w = ProtobufWriter()
        w.int(20, 7)
        #expect(w.bytes == [0xA0, 0x01, 0x07])
        w = ProtobufWriter()
        w.float(2, 1.0)
        #expect(w.bytes == [0x15, 0x00, 0x00, 0x80, 0x3F])
    }
}

@Suite("ONNX export")
struct ONNXExportTests {
    @Test("the seed graph: preprocessing, NCHW conv and pool, back to NHWC before Flatten, Gemm, Softmax")
    func seedGraph() throws {
        let network = try Network(architecture: .seed)
        let graph = try ONNXGraph.build(from: ModelDocument(network: network))
        #expect(graph.nodes.map(\.opType) == ["Mul", "Add", "Transpose", "Conv", "MaxPool", "Transpose", "Flatten", "Gemm", "Softmax"])
        #expect(graph.nodes.last?.outputs == ["probabilities"])
        #expect(graph.input == ONNXGraph.Value(name: "images", dims: [nil, 28, 28, 1]))
        #expect(graph.output == ONNXGraph.Value(name: "probabilities", dims: [nil, 10]))
        #expect(graph.nodes[5].attributes == [.ints("perm", [0, 2, 3, 1])])
        #expect(graph.initializers.map(\.name) == ["preprocessing.scale", "preprocessing.offset", "conv2d.kernel", "dense.kernel", "dense.bias"])
        #expect(graph.initializers[2].dims == [16, 1, 3, 3])
    }

    @Test("Keras 'same' padding: the smaller half before", arguments: [
        (28, 3, 2, [0, 0, 1, 1]), (28, 5, 2, [1, 1, 2, 2]), (28, 3, 1, [1, 1, 1, 1]), (7, 2, 2, [0, 0, 1, 1]), (5, 4, 1, [1, 1, 2, 2]),
    ] as [(Int, Int, Int, [Int])])
    func samePadding(input: Int, window: Int, stride: Int, pads: [Int]) {
        #expect(ONNXGraph.padding(ActivationShape(height: input, width: input, channels: 1), window: [window, window], stride: [stride, stride], padding: .same) == pads)
        #expect(ONNXGraph.padding(ActivationShape(height: input, width: input, channels: 1), window: [window, window], stride: [stride, stride], padding: .valid) == [0, 0, 0, 0])
    }

    @Test("conv kernels go from [kh, kw, in, out] to [out, in, kh, kw]")
    func kernelLayout() {
        let (kh, kw, cin, cout) = (2, 3, 2, 4)
        let hwio = (0..<(kh * kw * cin * cout)).map(Float.init)
        let oihw = ParameterTransform.convKernel.toNCHW(hwio, nchwShape: [cout, cin, kh, kw])
        for y in 0..<kh { for x in 0..<kw { for i in 0..<cin { for o in 0..<cout {
            #expect(oihw[((o * cin + i) * kh + y) * kw + x] == hwio[((y * kw + x) * cin + i) * cout + o])
        } } } }
    }

    @Test("random architectures export deterministically; the graph output has the network's output size", arguments: 0..<12)
    func randomArchitectures(seed: Int) throws {
        let document = try TestSupport.document(seed: UInt64(seed), minimal: true)
        let graph = try ONNXGraph.build(from: document)
        #expect(graph.output.dims.last == (try document.architecture.outputShape().count))
        #expect(graph.nodes.last?.outputs == ["probabilities"])
        let bytes = try ONNXExport.encode(document)
        #expect(try ONNXExport.encode(document) == bytes)
        #expect(bytes.starts(with: [0x08, 0x07]))
    }

    @Test("refusals: a missing, mis-shaped or unknown tensor")
    func refusals() throws {
        let document = ModelDocument(network: try Network(architecture: .seed))
        var missing = document
        missing.tensors.removeLast()
        #expect(throws: ONNXError.tensorMismatch(tensor: "dense.bias", reason: "missing (expected shape [10])")) { try ONNXExport.encode(missing) }
        var reshaped = document
        reshaped.tensors[2].tensor.shape = [2, 5]
        #expect(throws: ONNXError.self) { try ONNXExport.encode(reshaped) }
        var extra = document
        extra.tensors.append(NamedTensor(name: "conv9.kernel", tensor: Tensor(shape: [1], scalars: [0])))
        #expect(throws: ONNXError.tensorMismatch(tensor: "conv9.kernel", reason: "is not a parameter of the architecture")) { try ONNXExport.encode(extra) }
    }
}

@Suite("ONNX detection")
struct ONNXDetectionTests {
    @Test("an export is detected as ONNX from its bytes, and reading it says ONNX is write-only")
    func detect() throws {
        let bytes = try ONNXExport.encode(ModelDocument(network: try Network(architecture: .seed)))
        #expect(ONNXFileFormat().recognizes(prefix: Array(bytes.prefix(4096))))
        #expect(!ONNXFileFormat().recognizes(prefix: [0x08, 0x00, 0x12]))
        #expect(!ONNXFileFormat().recognizes(prefix: [0x08, 0x07, 0x99]))
    }
}

import ConvNet
import Foundation
import ModelArchive
import SwiftProtobuf
import Testing
@testable import InteropONNX

@Suite("protobuf fields written by hand")
struct ProtobufFieldTests {
    @Test("varints and length-delimited keys (the protobuf encoding guide's examples)")
    func wire() {
        #expect(ProtobufField.varint(150) == [0x96, 0x01])
        #expect(ProtobufField.varint(0) == [0x00])
        #expect(ProtobufField.varint(UInt64.max) == [UInt8](repeating: 0xFF, count: 9) + [0x01])
        #expect(ProtobufField.lengthDelimitedKey(2, length: 7) == [0x12, 0x07])
        #expect(ProtobufField.lengthDelimitedKey(9, length: 300) == [0x4A, 0xAC, 0x02])
    }

    @Test("the streamed export decodes with the generated types as the model it describes")
    func decodes() throws {
        let document = try TestSupport.document(seed: 3, minimal: true)
        let model = try Onnx_ModelProto(serializedBytes: try ONNXExport.encode(document))
        #expect(model.irVersion == 7 && model.producerName == "cnnkit")
        #expect(model.opsetImport.map(\.version) == [13])
        #expect(model.metadataProps.first?.key == ONNXExport.architectureKey)
        let graph = try ONNXGraph.build(from: document)
        #expect(model.graph.node.map(\.opType) == graph.nodes.map(\.opType))
        #expect(model.graph.initializer.map(\.name) == graph.initializers.map(\.name))
        for t in model.graph.initializer { #expect(t.rawData.count == t.dims.reduce(1, *) * 4) }
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
    @Test("an export is detected as ONNX from its bytes")
    func detect() throws {
        let bytes = try ONNXExport.encode(ModelDocument(network: try Network(architecture: .seed)))
        #expect(ONNXFileFormat().recognizes(prefix: Array(bytes.prefix(4096))))
        #expect(!ONNXFileFormat().recognizes(prefix: [0x08, 0x00, 0x12]))
        #expect(!ONNXFileFormat().recognizes(prefix: [0x08, 0x07, 0x99]))
    }
}

@Suite("ONNX import mapping")
struct ONNXImportTests {
    /// A file with `model` serialized, in a fresh folder.
    func write(_ model: Onnx_ModelProto, name: String = "m.onnx") throws -> String {
        let dir = try TestSupport.temporaryDirectory()
        let path = dir.appendingPathComponent(name).path
        try Data(try model.serializedBytes() as [UInt8]).write(to: URL(fileURLWithPath: path))
        return path
    }

    func tensor(_ name: String, _ dims: [Int], _ values: [Float]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = dims.map(Int64.init)
        t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        t.floatData = values
        return t
    }

    func node(_ op: String, _ inputs: [String], _ output: String, ints: [String: [Int]] = [:], int: [String: Int] = [:]) -> Onnx_NodeProto {
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = "/\(op)"
        n.input = inputs
        n.output = [output]
        for (k, v) in ints.sorted(by: { $0.key < $1.key }) {
            var a = Onnx_AttributeProto()
            a.name = k
            a.ints = v.map(Int64.init)
            a.type = .ints
            n.attribute.append(a)
        }
        for (k, v) in int.sorted(by: { $0.key < $1.key }) {
            var a = Onnx_AttributeProto()
            a.name = k
            a.i = Int64(v)
            a.type = .int
            n.attribute.append(a)
        }
        return n
    }

    /// NCHW input [N, 2, 3, 3] -> Conv 1x1 (2 -> 2, weights [out, in, 1, 1]) -> Flatten -> Gemm transB 1 (18 -> 18 identity rows):
    /// what PyTorch exports for Conv2d, Flatten, Linear.
    func torchLikeModel(lastOp: String = "Gemm") -> Onnx_ModelProto {
        var input = Onnx_ValueInfoProto()
        input.name = "x"
        input.type.tensorType.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        input.type.tensorType.shape.dim = [Int64(-1), 2, 3, 3].map { v in
            var d = Onnx_TensorShapeProto.Dimension()
            if v > 0 { d.dimValue = v } else { d.dimParam = "N" }
            return d
        }
        var output = Onnx_ValueInfoProto()
        output.name = "y"
        var g = Onnx_GraphProto()
        g.input = [input]
        g.output = [output]
        // Conv weights [out 2, in 2, 1, 1]: out0 = in0, out1 = 2 * in1.
        g.initializer = [tensor("w", [2, 2, 1, 1], [1, 0, 0, 2]), tensor("b", [2], [0.5, -0.5]),
                         tensor("fc", [18, 18], (0..<324).map { Float($0 / 18 == $0 % 18 ? 1 : 0) })]
        g.node = [node("Conv", ["x", "w", "b"], "c", ints: ["kernel_shape": [1, 1]]), node("Flatten", ["c"], "f", int: ["axis": 1]),
                  node(lastOp, ["f", "fc"], "y", int: lastOp == "Gemm" ? ["transB": 1] : [:])]
        var m = Onnx_ModelProto()
        m.irVersion = 8
        var opset = Onnx_OperatorSetIdProto()
        opset.version = 17
        m.opsetImport = [opset]
        m.graph = g
        return m
    }

    @Test("a PyTorch-style graph: NCHW input, OIHW kernel to HWIO, the first Gemm's rows from C,H,W to H,W,C, softmax added")
    func torchLike() throws {
        let reader = try ONNXTensorReader(path: try write(torchLikeModel()))
        #expect(reader.architecture.input == ActivationShape(height: 3, width: 3, channels: 2))
        #expect(reader.architecture.layers.map(\.kind.typeName) == ["conv2d", "flatten", "dense", "softmax"])
        #expect(reader.inferredArchitecture?.contains("softmax added after the last Gemm/MatMul (the graph ends in logits)") == true)
        let kernel = try reader.readTensor(named: "conv2d.kernel")
        #expect(kernel.shape == [1, 1, 2, 2])
        #expect(kernel.scalars == [1, 0, 0, 2]) // [in][out]: in0 -> out0 1, in1 -> out1 2
        // The identity Gemm on PyTorch's C,H,W flat order is, in CNNKit's H,W,C order, the permutation rows.
        let dense = try reader.readTensor(named: "dense.kernel")
        for c in 0..<2 { for h in 0..<3 { for w in 0..<3 {
            let torchRow = (c * 3 + h) * 3 + w, ours = (h * 3 + w) * 2 + c
            #expect(dense.scalars[ours * 18 + torchRow] == 1)
        } } }
        #expect(dense.scalars.reduce(0, +) == 18)
    }

    @Test("MatMul weights [in, out] take the same row permutation as Gemm transB 1")
    func matMul() throws {
        let gemm = try ONNXTensorReader(path: try write(torchLikeModel()))
        let matMul = try ONNXTensorReader(path: try write(torchLikeModel(lastOp: "MatMul")))
        // The identity matrix is its own transpose, so both read the same kernel.
        #expect(try gemm.readTensor(named: "dense.kernel") == (try matMul.readTensor(named: "dense.kernel")))
        let shape = ActivationShape(height: 2, width: 3, channels: 2)
        let values: [Float] = (0..<60).map { Float($0) }
        var transposed = [Float](repeating: 0, count: 60)
        for r in 0..<12 { for o in 0..<5 { transposed[o * 12 + r] = values[r * 5 + o] } }
        #expect(ParameterTransform.denseKernel(flattened: shape).toCNNKit(values, nchwShape: [12, 5])
                == ParameterTransform.linearKernel(flattened: shape).toCNNKit(transposed, nchwShape: [5, 12]))
    }

    @Test("our own export reads back with its names, probes-free document bitwise", arguments: 0..<6)
    func ownExport(seed: Int) throws {
        let document = try TestSupport.document(seed: UInt64(seed), minimal: true)
        let dir = try TestSupport.temporaryDirectory()
        let path = dir.appendingPathComponent("x.onnx").path
        try ONNXExport.write(document, to: path)
        let reader = try ONNXTensorReader(path: path)
        #expect(reader.architecture == document.architecture)
        #expect(reader.inferredArchitecture == nil)
        for t in document.tensors { #expect(try reader.readTensor(named: t.name) == t.tensor) }
    }

    @Test("an unsupported operator is named with its node and the supported list")
    func unsupported() throws {
        var model = torchLikeModel()
        model.graph.node[1].opType = "Tanh"
        model.graph.node[1].name = "/act/Tanh"
        let path = try write(model)
        #expect(throws: ONNXError.unsupportedOperator(file: path, node: "/act/Tanh", op: "Tanh", supported: ONNXImport.supportedOperators)) {
            try ONNXTensorReader(path: path)
        }
    }

    @Test("external data: '..', absolute paths and a location that is not there are refused by name")
    func externalData() throws {
        for location in ["../w.bin", "/etc/passwd", "a/./b", "missing.bin"] {
            var model = torchLikeModel()
            model.graph.initializer[0].floatData = []
            model.graph.initializer[0].dataLocation = .external
            var entry = Onnx_StringStringEntryProto()
            entry.key = "location"
            entry.value = location
            model.graph.initializer[0].externalData = [entry]
            let reader = try ONNXTensorReader(path: try write(model))
            #expect(throws: ONNXError.self) { try reader.readTensor(named: "conv2d.kernel") }
            do {
                _ = try reader.readTensor(named: "conv2d.kernel")
            } catch let error as ONNXError {
                #expect(error.category == .invalidInput)
                #expect("\(error)".contains("external data refused: location '\(location)'"))
            }
        }
    }
}

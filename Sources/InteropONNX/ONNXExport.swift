import ConvNet
import ModelArchive

/// Export of a model as an ONNX `ModelProto` (`Schemas/onnx-export.md`); ONNX files are written, never read.
/// The export streams: one tensor is held at a time.
///
/// The model has IR version 7 and imports the default domain at opset 13; its graph is
/// ``ONNXGraph/build(from:)``. `metadata_props` carry the architecture JSON under `cnnkit.architecture`.
public enum ONNXExport {
    /// The ONNX IR version written (7: the first that opset 13 allows).
    public static let irVersion = 7
    /// The default-domain opset imported.
    public static let opsetVersion = 13

    /// Writes the export atomically (``AtomicFile``), in one forward pass: the length of the graph message is
    /// computed beforehand from the initializers' shapes (float32 `raw_data` is 4 bytes a value), then each
    /// initializer's tensor is fetched, written and released before the next.
    ///
    /// - Throws: an ``ONNXError`` when the model cannot be exported (checked before the file is created),
    ///   ``ArchiveError`` when the file cannot be written, or what fetching a tensor throws.
    public static func write(_ model: StreamedModel, to path: String) throws {
        let graph = try ONNXGraph.build(from: model)
        try AtomicFile.write(to: path) { temp in
            let output = try FileOutput(temp, for: path)
            defer { output.closeFile() }
            try encode(graph, model: model, architectureJSON: model.architecture.jsonString(), into: output.write)
            try output.flush()
        }
    }

    /// Writes a document's export atomically.
    public static func write(_ document: ModelDocument, to path: String) throws {
        try write(StreamedModel(document: document), to: path)
    }

    /// The serialized `ModelProto`; deterministic for the same document.
    public static func encode(_ document: ModelDocument) throws -> [UInt8] {
        let model = StreamedModel(document: document)
        var bytes: [UInt8] = []
        try encode(ONNXGraph.build(from: model), model: model, architectureJSON: document.architecture.jsonString()) { bytes += $0 }
        return bytes
    }

    /// Serializes a graph as a `ModelProto` through `emit`, fetching each initializer's values from `model` just
    /// before they are emitted.
    static func encode(_ graph: ONNXGraph, model: StreamedModel, architectureJSON: String,
                       into emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        func emitBytes(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try emit($0) } }
        var nodes = ProtobufWriter()
        encodeNodes(graph, into: &nodes)
        nodes.string(ONNXField.Graph.name, graph.name)
        var values = ProtobufWriter()
        values.message(ONNXField.Graph.input) { encodeValue(graph.input, into: &$0) }
        values.message(ONNXField.Graph.output) { encodeValue(graph.output, into: &$0) }
        // Each initializer's field up to its raw_data bytes, and so the graph's length.
        let heads = graph.initializers.map(initializerHead)
        var graphLength = nodes.bytes.count + values.bytes.count
        for (head, initializer) in zip(heads, graph.initializers) { graphLength += head.count + initializer.count * 4 }

        var model0 = ProtobufWriter()
        model0.int(ONNXField.Model.irVersion, irVersion)
        model0.string(ONNXField.Model.producerName, "cnnkit")
        model0.string(ONNXField.Model.producerVersion, "1")
        model0.lengthDelimitedKey(ONNXField.Model.graph, length: graphLength)
        try emitBytes(model0.bytes)
        try emitBytes(nodes.bytes)
        for (head, initializer) in zip(heads, graph.initializers) {
            try emitBytes(head)
            let raw = try initializerValues(initializer, model: model)
            guard raw.count == initializer.count else {
                throw ONNXError.tensorMismatch(tensor: initializer.name, reason: "expected \(initializer.count) values (shape \(initializer.dims)), found \(raw.count)")
            }
            #if _endian(little)
            try raw.withUnsafeBytes { try emit($0) }
            #else
            var bytes: [UInt8] = []
            for v in raw { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
            try emitBytes(bytes)
            #endif
        }
        try emitBytes(values.bytes)
        var end = ProtobufWriter()
        end.message(ONNXField.Model.opsetImport) { opset in
            opset.string(ONNXField.OperatorSetID.domain, "")
            opset.int(ONNXField.OperatorSetID.version, opsetVersion)
        }
        end.message(ONNXField.Model.metadataProps) { entry in
            entry.string(ONNXField.StringStringEntry.key, "cnnkit.architecture")
            entry.string(ONNXField.StringStringEntry.value, architectureJSON)
        }
        try emitBytes(end.bytes)
    }

    /// An initializer's `GraphProto.initializer` field up to the bytes of its `raw_data`: the field key and
    /// length, then `dims`, `data_type`, `name` and the key and length of `raw_data`.
    private static func initializerHead(_ initializer: ONNXGraph.Initializer) -> [UInt8] {
        var t = ProtobufWriter()
        for d in initializer.dims { t.int(ONNXField.Tensor.dims, d) }
        t.int(ONNXField.Tensor.dataType, ONNXField.DataType.float)
        t.string(ONNXField.Tensor.name, initializer.name)
        t.lengthDelimitedKey(ONNXField.Tensor.rawData, length: initializer.count * 4)
        var field = ProtobufWriter()
        field.lengthDelimitedKey(ONNXField.Graph.initializer, length: t.bytes.count + initializer.count * 4)
        return field.bytes + t.bytes
    }

    /// An initializer's values, fetched from the model (a convolution kernel reordered to ONNX's layout).
    private static func initializerValues(_ initializer: ONNXGraph.Initializer, model: StreamedModel) throws -> [Float] {
        func fetch(_ name: String) throws -> [Float] {
            guard let descriptor = model.parameters.first(where: { $0.name == name }) else {
                throw ONNXError.tensorMismatch(tensor: name, reason: "missing")
            }
            do {
                return try model.fetch(descriptor).scalars
            } catch let error as ConvNetError {
                throw ONNXError.tensorMismatch(tensor: name, reason: "\(error)")
            }
        }
        switch initializer.values {
        case let .constant(values):
            return values
        case let .parameter(name):
            return try fetch(name)
        case let .convolutionKernel(name, kh, kw, cin, cout):
            return ONNXGraph.oihw(hwio: try fetch(name), kh: kh, kw: kw, cin: cin, cout: cout)
        }
    }

    private static func encodeNodes(_ graph: ONNXGraph, into w: inout ProtobufWriter) {
        for node in graph.nodes {
            w.message(ONNXField.Graph.node) { n in
                for input in node.inputs { n.string(ONNXField.Node.input, input) }
                for output in node.outputs { n.string(ONNXField.Node.output, output) }
                n.string(ONNXField.Node.name, node.name)
                n.string(ONNXField.Node.opType, node.opType)
                for attribute in node.attributes {
                    n.message(ONNXField.Node.attribute) { a in
                        a.string(ONNXField.Attribute.name, attribute.name)
                        switch attribute {
                        case let .int(_, value):
                            a.int(ONNXField.Attribute.i, value)
                            a.int(ONNXField.Attribute.type, ONNXField.AttributeType.int)
                        case let .ints(_, values):
                            for v in values { a.int(ONNXField.Attribute.ints, v) }
                            a.int(ONNXField.Attribute.type, ONNXField.AttributeType.ints)
                        }
                    }
                }
            }
        }
    }

    private static func encodeValue(_ value: ONNXGraph.Value, into w: inout ProtobufWriter) {
        w.string(ONNXField.ValueInfo.name, value.name)
        w.message(ONNXField.ValueInfo.type) { type in
            type.message(ONNXField.TypeProto.tensorType) { tensor in
                tensor.int(ONNXField.TypeProto.elemType, ONNXField.DataType.float)
                tensor.message(ONNXField.TypeProto.shape) { shape in
                    for d in value.dims {
                        shape.message(ONNXField.TypeProto.dim) { dim in
                            if let d { dim.int(ONNXField.TypeProto.dimValue, d) } else { dim.string(ONNXField.TypeProto.dimParam, "N") }
                        }
                    }
                }
            }
        }
    }
}

/// Field numbers and enum values of `onnx.proto` that the exporter writes.
enum ONNXField {
    enum Model {
        static let irVersion = 1, producerName = 2, producerVersion = 3, graph = 7, opsetImport = 8, metadataProps = 14
    }
    enum OperatorSetID {
        static let domain = 1, version = 2
    }
    enum StringStringEntry {
        static let key = 1, value = 2
    }
    enum Graph {
        static let node = 1, name = 2, initializer = 5, input = 11, output = 12
    }
    enum Node {
        static let input = 1, output = 2, name = 3, opType = 4, attribute = 5
    }
    enum Attribute {
        static let name = 1, i = 3, ints = 8, type = 20
    }
    /// `AttributeProto.AttributeType`.
    enum AttributeType {
        static let int = 2, ints = 7
    }
    enum Tensor {
        static let dims = 1, dataType = 2, name = 8, rawData = 9
    }
    /// `TensorProto.DataType`.
    enum DataType {
        static let float = 1
    }
    enum ValueInfo {
        static let name = 1, type = 2
    }
    /// `TypeProto` (field 1: `tensor_type`), `TypeProto.Tensor`, `TensorShapeProto` and its `Dimension`.
    enum TypeProto {
        static let tensorType = 1, elemType = 1, shape = 2, dim = 1, dimValue = 1, dimParam = 2
    }
}

import ConvNet
import ModelArchive

/// Export of a model document as an ONNX `ModelProto` (`Schemas/onnx-export.md`); ONNX files are written,
/// never read.
///
/// The model has IR version 7 and imports the default domain at opset 13; its graph is
/// ``ONNXGraph/build(from:)``. `metadata_props` carry the architecture JSON under `cnnkit.architecture`.
public enum ONNXExport {
    /// The ONNX IR version written (7: the first that opset 13 allows).
    public static let irVersion = 7
    /// The default-domain opset imported.
    public static let opsetVersion = 13

    /// Writes the export atomically (temporary file in the same folder, `fsync`, rename).
    ///
    /// - Throws: an ``ONNXError`` when the document cannot be exported, ``ArchiveError`` when the file cannot
    ///   be written.
    public static func write(_ document: ModelDocument, to path: String) throws {
        try AtomicFile.write(bytes: try encode(document), to: path)
    }

    /// The serialized `ModelProto`; deterministic for the same document.
    public static func encode(_ document: ModelDocument) throws -> [UInt8] {
        try encode(ONNXGraph.build(from: document), architectureJSON: document.architecture.jsonString())
    }

    /// Serializes a graph as a `ModelProto`.
    static func encode(_ graph: ONNXGraph, architectureJSON: String) -> [UInt8] {
        var model = ProtobufWriter()
        model.int(ONNXField.Model.irVersion, irVersion)
        model.string(ONNXField.Model.producerName, "cnnkit")
        model.string(ONNXField.Model.producerVersion, "1")
        model.message(ONNXField.Model.graph) { encodeGraph(graph, into: &$0) }
        model.message(ONNXField.Model.opsetImport) { opset in
            opset.string(ONNXField.OperatorSetID.domain, "")
            opset.int(ONNXField.OperatorSetID.version, opsetVersion)
        }
        model.message(ONNXField.Model.metadataProps) { entry in
            entry.string(ONNXField.StringStringEntry.key, "cnnkit.architecture")
            entry.string(ONNXField.StringStringEntry.value, architectureJSON)
        }
        return model.bytes
    }

    private static func encodeGraph(_ graph: ONNXGraph, into w: inout ProtobufWriter) {
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
        w.string(ONNXField.Graph.name, graph.name)
        for initializer in graph.initializers {
            w.message(ONNXField.Graph.initializer) { t in
                for d in initializer.dims { t.int(ONNXField.Tensor.dims, d) }
                t.int(ONNXField.Tensor.dataType, ONNXField.DataType.float)
                t.string(ONNXField.Tensor.name, initializer.name)
                var raw: [UInt8] = []
                raw.reserveCapacity(initializer.values.count * 4)
                for v in initializer.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw += $0 } }
                t.bytes(ONNXField.Tensor.rawData, raw)
            }
        }
        w.message(ONNXField.Graph.input) { encodeValue(graph.input, into: &$0) }
        w.message(ONNXField.Graph.output) { encodeValue(graph.output, into: &$0) }
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

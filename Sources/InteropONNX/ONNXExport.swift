import ConvNet
import ModelArchive
import SwiftProtobuf

/// Export of a model as an ONNX `ModelProto` (`Schemas/onnx.md`), on the types generated from `onnx.proto`.
/// The export streams: one tensor is held at a time.
///
/// The model has IR version 7 and imports the default domain at opset 13; its graph is
/// ``ONNXGraph/build(from:)``. `metadata_props` carry the architecture JSON under `cnnkit.architecture`, the
/// model's metadata (with its digests) and its probes (``ONNXRecord``).
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
            try encode(graph, model: model, into: output.write)
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
        try encode(ONNXGraph.build(from: model), model: model) { bytes += $0 }
        return bytes
    }

    /// Serializes a graph as a `ModelProto` through `emit`, fetching each initializer's values from `model` just
    /// before they are emitted.
    ///
    /// Everything is serialized by the types generated from `onnx.proto` (`Generated/onnx.pb.swift`) except two
    /// kinds of field, written here as the fields they are so that no message ever holds a tensor's values:
    /// `ModelProto.graph` (its key and length; the length computed from the shapes first) and each
    /// initializer's `TensorProto.raw_data` (key, length `count * 4`, then the values straight from the fetched
    /// tensor). This is possible because protobuf messages concatenate: a message serialized in pieces, each
    /// piece holding some of its fields, is the same message; and because SwiftProtobuf writes fields in
    /// ascending number order, the pieces are cut where the numbers allow:
    ///
    /// - `ModelProto` fields 1-3 (`ir_version`, `producer_name`, `producer_version`), then field 7 (`graph`) by
    ///   hand, then fields 8 and 14 (`opset_import`, `metadata_props`);
    /// - inside the graph: fields 1-2 (`node`, `name`), then each field 5 (`initializer`) by hand around a
    ///   generated `TensorProto` holding fields 1, 2, 8 (`dims`, `data_type`, `name`) followed by field 9
    ///   (`raw_data`) by hand, then fields 11-12 (`input`, `output`).
    ///
    /// The graph's bytes are those of the hand-written encoder this replaced (unpacked repeated integers, as
    /// proto2 writes them; the same field order). `metadata_props` holds ``ONNXRecord/entries(_:)``.
    static func encode(_ graph: ONNXGraph, model: StreamedModel,
                       into emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        func emitBytes(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try emit($0) } }
        var nodes = Onnx_GraphProto()
        nodes.node = graph.nodes.map(nodeProto)
        nodes.name = graph.name
        var values = Onnx_GraphProto()
        values.input = [valueInfo(graph.input)]
        values.output = [valueInfo(graph.output)]
        let nodeBytes: [UInt8] = try nodes.serializedBytes()
        let valueBytes: [UInt8] = try values.serializedBytes()
        // Each initializer's field up to its raw_data bytes, and so the graph's length.
        let heads = try graph.initializers.map(initializerHead)
        var graphLength = nodeBytes.count + valueBytes.count
        for (head, initializer) in zip(heads, graph.initializers) { graphLength += head.count + initializer.count * 4 }

        var head = Onnx_ModelProto()
        head.irVersion = Int64(irVersion)
        head.producerName = "cnnkit"
        head.producerVersion = "1"
        try emitBytes(try head.serializedBytes() + ProtobufField.lengthDelimitedKey(Onnx_ModelProto.graphField, length: graphLength))
        try emitBytes(nodeBytes)
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
        try emitBytes(valueBytes)
        var tail = Onnx_ModelProto()
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = Int64(opsetVersion)
        tail.opsetImport = [opset]
        tail.metadataProps = try ONNXRecord.entries(model).map { key, value in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = value
            return entry
        }
        try emitBytes(try tail.serializedBytes())
    }

    /// The `metadata_props` key of the architecture JSON.
    public static let architectureKey = "cnnkit.architecture"

    /// An initializer's `GraphProto.initializer` field up to the bytes of its `raw_data`: the field key and
    /// length, the generated `TensorProto` with `dims`, `data_type` and `name`, then the key and length of
    /// `raw_data`.
    private static func initializerHead(_ initializer: ONNXGraph.Initializer) throws -> [UInt8] {
        var t = Onnx_TensorProto()
        t.dims = initializer.dims.map(Int64.init)
        t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        t.name = initializer.name
        let tensor: [UInt8] = try t.serializedBytes() + ProtobufField.lengthDelimitedKey(Onnx_TensorProto.rawDataField, length: initializer.count * 4)
        return ProtobufField.lengthDelimitedKey(Onnx_GraphProto.initializerField, length: tensor.count + initializer.count * 4) + tensor
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
            return ParameterTransform.convKernel.toNCHW(try fetch(name), nchwShape: [cout, cin, kh, kw])
        }
    }

    private static func nodeProto(_ node: ONNXGraph.Node) -> Onnx_NodeProto {
        var n = Onnx_NodeProto()
        n.input = node.inputs
        n.output = node.outputs
        n.name = node.name
        n.opType = node.opType
        n.attribute = node.attributes.map { attribute in
            var a = Onnx_AttributeProto()
            a.name = attribute.name
            switch attribute {
            case let .int(_, value):
                a.i = Int64(value)
                a.type = .int
            case let .ints(_, values):
                a.ints = values.map(Int64.init)
                a.type = .ints
            }
            return a
        }
        return n
    }

    private static func valueInfo(_ value: ONNXGraph.Value) -> Onnx_ValueInfoProto {
        var shape = Onnx_TensorShapeProto()
        shape.dim = value.dims.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            if let d { dim.dimValue = Int64(d) } else { dim.dimParam = "N" }
            return dim
        }
        var info = Onnx_ValueInfoProto()
        info.name = value.name
        info.type.tensorType.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        info.type.tensorType.shape = shape
        return info
    }
}

/// The two fields the export writes by hand around the generated types (``ONNXExport/encode(_:model:architectureJSON:into:)``).
extension Onnx_ModelProto {
    /// `ModelProto.graph`.
    static let graphField = 7
}

extension Onnx_GraphProto {
    /// `GraphProto.initializer`.
    static let initializerField = 5
}

extension Onnx_TensorProto {
    /// `TensorProto.raw_data`.
    static let rawDataField = 9
}

/// The key and length of a length-delimited protobuf field whose bytes follow: what the export writes by hand.
enum ProtobufField {
    /// `field << 3 | 2` then `length`, each a base-128 varint.
    static func lengthDelimitedKey(_ field: Int, length: Int) -> [UInt8] {
        varint(UInt64(field) << 3 | 2) + varint(UInt64(length))
    }

    /// A base-128 varint, least significant group first.
    static func varint(_ value: UInt64) -> [UInt8] {
        var v = value, bytes: [UInt8] = []
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
        return bytes
    }
}

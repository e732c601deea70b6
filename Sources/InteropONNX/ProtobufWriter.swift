/// A minimal protocol-buffers encoder: just the wire types ONNX export needs.
///
/// Why not swift-protobuf: the exporter writes a fixed, small subset of `onnx.proto` (ModelProto, GraphProto,
/// NodeProto, AttributeProto, TensorProto, ValueInfoProto and the type/shape messages) and never reads one.
/// Encoding that subset takes the two wire types below (varint and length-delimited) and about fifty lines;
/// generated code would add a dependency, a runtime library, a 6,000-line generated file kept in step with
/// `onnx.proto`, and a code generator that CI must not build. Correctness is checked where it matters, by the
/// real tools: `Tests/Interop/test_onnx.py` runs `onnx.checker.check_model(full_check=True)` and onnxruntime on
/// every export, and `ProtobufWriterTests` pins the bytes of each wire type against hand-computed encodings.
///
/// Field numbers are those of `onnx.proto` (IR version 7+), collected in ``ONNXField``. Fields are written in
/// the order the builder calls them, which makes the output deterministic.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    /// Wire types (the low 3 bits of a key).
    enum WireType: UInt64 {
        case varint = 0
        case fixed32 = 5
        case lengthDelimited = 2
    }

    /// Appends a base-128 varint, least significant group first.
    mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    private mutating func key(_ field: Int, _ type: WireType) {
        appendVarint(UInt64(field) << 3 | type.rawValue)
    }

    /// An `int64` / `int32` / enum field (negative values as ten-byte two's complement, as protobuf does).
    mutating func int(_ field: Int, _ value: Int) {
        key(field, .varint)
        appendVarint(UInt64(bitPattern: Int64(value)))
    }

    /// A `float` field (fixed32, little-endian).
    mutating func float(_ field: Int, _ value: Float) {
        key(field, .fixed32)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }

    /// A `bytes` field.
    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        lengthDelimitedKey(field, length: value.count)
        bytes += value
    }

    /// The key and length of a length-delimited field whose `length` bytes the caller writes after these.
    mutating func lengthDelimitedKey(_ field: Int, length: Int) {
        key(field, .lengthDelimited)
        appendVarint(UInt64(length))
    }

    /// A `string` field (UTF-8).
    mutating func string(_ field: Int, _ value: String) {
        bytes(field, Array(value.utf8))
    }

    /// An embedded message field, built by `body` on a fresh writer.
    mutating func message(_ field: Int, _ body: (inout ProtobufWriter) throws -> Void) rethrows {
        var inner = ProtobufWriter()
        try body(&inner)
        bytes(field, inner.bytes)
    }
}

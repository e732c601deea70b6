#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ModelArchive
import SwiftProtobuf

/// An ONNX file split at protobuf field boundaries so that no initializer's values are read when it is opened
/// (`Schemas/onnx.md` section 5): the reading counterpart of the export's hand-written `raw_data` fields.
///
/// The scan walks keys and lengths only: the top-level `ModelProto` fields, inside `graph` (field 7) its
/// fields, and inside each `initializer` (graph field 5) its fields. Every field's bytes are read and
/// decoded by the generated types, except each initializer's `raw_data` (`TensorProto` field 9), whose
/// offset and length in the file are recorded instead and read when the tensor is asked for. Protobuf
/// messages concatenate, so the fields gathered per message decode as that message. Every length is checked
/// against the end of its enclosing message before anything is read.
struct ONNXFileScan {
    /// The model with every initializer's `raw_data` left out.
    var model: Onnx_ModelProto
    /// Where each initializer's `raw_data` is in the file, by initializer name.
    var rawRanges: [String: (offset: UInt64, length: Int)]

    private let fd: Int32
    private let file: String
    private var fileEnd: UInt64 = 0

    /// Scans and decodes a file of `size` bytes open as `fd`.
    ///
    /// - Throws: ``ONNXError/invalid(file:reason:)``.
    static func scan(fd: Int32, size: UInt64, file: String) throws -> ONNXFileScan {
        var scan = ONNXFileScan(model: Onnx_ModelProto(), rawRanges: [:], fd: fd, file: file)
        scan.fileEnd = size
        var top: [UInt8] = [], graph: [UInt8] = []
        var tensors: [(header: [UInt8], raw: (UInt64, Int)?)] = []
        var sawGraph = false
        try scan.fields(0, size) { field, wire, start, body, end in
            guard field == 7, wire == 2 else { top += try scan.bytes(start, end); return }
            guard !sawGraph else { throw scan.invalid("graph (field 7) appears twice") }
            sawGraph = true
            try scan.fields(body, end) { field, wire, start, body, end in
                guard field == 5, wire == 2 else { graph += try scan.bytes(start, end); return }
                guard tensors.count < SafetyLimits.maxONNXInitializers else {
                    throw scan.invalid("more than \(SafetyLimits.maxONNXInitializers) initializers")
                }
                var header: [UInt8] = [], raw: (UInt64, Int)?
                try scan.fields(body, end) { field, wire, start, body, end in
                    guard field == 9, wire == 2 else { header += try scan.bytes(start, end); return }
                    guard raw == nil else { throw scan.invalid("an initializer holds raw_data twice") }
                    raw = (body, Int(end - body))
                }
                tensors.append((header, raw))
            }
        }
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = 64
        options.discardUnknownFields = true
        do {
            scan.model = try Onnx_ModelProto(serializedBytes: top, options: options)
            var decodedGraph = try Onnx_GraphProto(serializedBytes: graph, options: options)
            for (header, raw) in tensors {
                let t = try Onnx_TensorProto(serializedBytes: header, options: options)
                if let raw {
                    guard scan.rawRanges.updateValue(raw, forKey: t.name) == nil else {
                        throw ONNXError.tensor(file: file, tensor: t.name, reason: "appears twice among the initializers")
                    }
                }
                decodedGraph.initializer.append(t)
            }
            scan.model.graph = decodedGraph
        } catch let error as BinaryDecodingError {
            throw scan.invalid(ONNXTensorReader.describe(error))
        }
        return scan
    }

    private func invalid(_ reason: String) -> ONNXError { .invalid(file: file, reason: reason) }

    /// Calls `body(field, wireType, fieldStart, valueStart, fieldEnd)` for each field in `[from, to)`.
    private func fields(_ from: UInt64, _ to: UInt64, _ body: (UInt64, UInt64, UInt64, UInt64, UInt64) throws -> Void) throws {
        var pos = from
        while pos < to {
            let start = pos
            let key = try varint(&pos, to)
            let field = key >> 3, wire = key & 7
            guard field > 0, field <= 536_870_911 else { throw invalid("malformed protobuf (field number 0 or too large at offset \(start))") }
            let valueStart: UInt64
            switch wire {
            case 0:
                valueStart = pos
                _ = try varint(&pos, to)
            case 1, 5:
                valueStart = pos
                let width: UInt64 = wire == 1 ? 8 : 4
                guard to - pos >= width else { throw invalid("truncated (a field or length runs past the end of the file or its message, at offset \(start))") }
                pos += width
            case 2:
                let length = try varint(&pos, to)
                guard length <= to - pos else { throw invalid("truncated, or a length past the end: the field at offset \(start) declares \(length) bytes, \(to - pos) are left in \(to == fileEnd ? "the file" : "its message")") }
                valueStart = pos
                pos += length
            default:
                throw invalid("malformed protobuf (wire type \(wire) at offset \(start))")
            }
            try body(field, wire, start, valueStart, pos)
        }
    }

    /// A base-128 varint at `pos` (at most 10 bytes, before `limit`).
    private func varint(_ pos: inout UInt64, _ limit: UInt64) throws -> UInt64 {
        var chunk = [UInt8](repeating: 0, count: 10)
        let available = Int(min(10, limit - pos))
        let n = try read(into: &chunk, count: available, at: pos)
        var value: UInt64 = 0
        for i in 0..<n {
            value |= UInt64(chunk[i] & 0x7F) << (7 * UInt64(i))
            if chunk[i] < 0x80 {
                pos += UInt64(i + 1)
                return value
            }
        }
        throw invalid(n == 10 ? "malformed protobuf (a varint longer than 10 bytes at offset \(pos))" : "truncated (a field or length runs past the end of the file or its message, at offset \(pos))")
    }

    /// The bytes of `[from, to)`.
    private func bytes(_ from: UInt64, _ to: UInt64) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(to - from))
        guard try read(into: &out, count: out.count, at: from) == out.count else { throw invalid("truncated (the file ended while being read)") }
        return out
    }

    private func read(into buffer: inout [UInt8], count: Int, at offset: UInt64) throws -> Int {
        do {
            return try buffer.withUnsafeMutableBytes { try FileIO.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<count]), at: offset) }
        } catch {
            throw invalid("reading: \(error)")
        }
    }
}

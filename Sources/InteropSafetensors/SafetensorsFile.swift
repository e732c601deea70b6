import Foundation
import ConvNet
import ModelArchive

/// One tensor of a safetensors file, widened to float32.
public struct SafetensorsTensor: Sendable, Hashable {
    public var name: String
    /// The dtype as stored in the file (writing always stores ``SafetensorsDType/f32``).
    public var dtype: SafetensorsDType
    public var shape: [Int]
    /// Row-major values; `values.count` is the product of `shape`.
    public var values: [Float]

    public init(name: String, dtype: SafetensorsDType = .f32, shape: [Int], values: [Float]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.values = values
    }
}

/// A safetensors file: the `__metadata__` string map and the tensors (`Schemas/safetensors-mapping.md` section 1).
///
/// ``parse(_:name:)`` validates the whole header before it decodes any tensor, with the rules of the reference
/// implementation (huggingface/safetensors `tensor.rs`): an 8-byte little-endian header length of at most
/// 100,000,000; a UTF-8 JSON object; tensors, sorted by `data_offsets`, contiguous from 0 with no gap or
/// overlap; each spanning exactly its shape times its dtype size; and the last one ending at the end of the file.
/// ``encoded()`` writes what the Python package writes for the same tensors.
public struct SafetensorsFile: Sendable, Hashable {
    /// The header's `__metadata__` map; nil when the header has none.
    public var metadata: [String: String]?
    /// The tensors, in the order of their data in the file (for a parsed file) or in any order (for writing).
    public var tensors: [SafetensorsTensor]

    /// The largest header this reader accepts, as the Python package (`MAX_HEADER_SIZE`).
    public static let maxHeaderBytes = 100_000_000

    public init(metadata: [String: String]? = nil, tensors: [SafetensorsTensor]) {
        self.metadata = metadata
        self.tensors = tensors
    }

    /// Parses and validates a whole file held in memory.
    ///
    /// - Parameters:
    ///   - bytes: the file.
    ///   - name: the file name used in error messages.
    /// - Throws: a ``SafetensorsError`` naming the byte offset or tensor that breaks a rule.
    public static func parse(_ bytes: [UInt8], name: String) throws -> SafetensorsFile {
        guard bytes.count >= 8 else { throw SafetensorsError.truncated(file: name, offset: 0, needed: 8, available: bytes.count) }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard length <= UInt64(maxHeaderBytes) else {
            throw SafetensorsError.headerTooLarge(file: name, length: length, limit: maxHeaderBytes)
        }
        let headerLength = Int(length)
        guard headerLength <= bytes.count - 8 else {
            throw SafetensorsError.truncated(file: name, offset: 8, needed: length, available: bytes.count - 8)
        }
        let dataStart = 8 + headerLength
        let header = try SafetensorsHeader.parse(bytes[8..<dataStart], file: name)
        let dataBytes = UInt64(bytes.count - dataStart)
        let entries = try header.validated(dataBytes: dataBytes, dataStart: dataStart, file: name)
        var tensors: [SafetensorsTensor] = []
        tensors.reserveCapacity(entries.count)
        for entry in entries {
            // validated() proved begin + count * size <= dataBytes, so these fit in Int.
            let values = entry.dtype.decode(bytes, offset: dataStart + Int(entry.begin), count: entry.count)
            tensors.append(SafetensorsTensor(name: entry.name, dtype: entry.dtype, shape: entry.shape, values: values))
        }
        return SafetensorsFile(metadata: header.metadata, tensors: tensors)
    }

    /// Reads and parses a file.
    ///
    /// - Throws: ``SafetensorsError/missingFile(path:reason:)`` when it cannot be read, else as ``parse(_:name:)``.
    public static func read(path: String) throws -> SafetensorsFile {
        try parse(try readBytes(path: path), name: path)
    }

    /// The file's bytes, as the Python package writes them: tensors sorted by dtype (wider first) then by name
    /// (UTF-8 byte order), a compact JSON header with `__metadata__` first (its keys sorted), padded with spaces
    /// to a multiple of 8 bytes, then the data, contiguous. Every tensor is stored as F32.
    ///
    /// - Throws: ``SafetensorsError/invalidWrite(reason:)`` for duplicate or empty names, a name `__metadata__`,
    ///   or a value count that does not match the shape.
    public func encoded() throws -> [UInt8] {
        for t in tensors {
            guard let count = Tensor.elementCount(t.shape), count == t.values.count else {
                throw SafetensorsError.invalidWrite(reason: "tensor \(t.name) has shape \(t.shape) but \(t.values.count) values")
            }
        }
        let (header, ordered) = try Self.header(metadata: metadata, tensors: tensors.map { TensorDescriptor(name: $0.name, shape: $0.shape) })
        let byName = Dictionary(tensors.map { ($0.name, $0.values) }, uniquingKeysWith: { first, _ in first })
        var out = header
        for t in ordered {
            Self.appendLittleEndian(byName[t.name] ?? [], to: &out)
        }
        return out
    }

    /// The first bytes of a file holding `tensors` as F32: the 8-byte header length and the header, as the
    /// Python package writes them (tensors sorted by name, `__metadata__` first with its keys sorted, padded
    /// with spaces to a multiple of 8 bytes), and the order in which the tensors' data must follow.
    ///
    /// - Throws: ``SafetensorsError/invalidWrite(reason:)`` for duplicate or empty names, a name
    ///   `__metadata__`, a negative or overflowing shape, or a header over the cap.
    public static func header(metadata: [String: String]?, tensors: [TensorDescriptor]) throws -> (bytes: [UInt8], order: [TensorDescriptor]) {
        var seen = Set<String>()
        for t in tensors {
            guard !t.name.isEmpty, t.name != "__metadata__" else { throw SafetensorsError.invalidWrite(reason: "tensor name '\(t.name)' is reserved or empty") }
            guard seen.insert(t.name).inserted else { throw SafetensorsError.invalidWrite(reason: "tensor name '\(t.name)' is used twice") }
            guard Tensor.elementCount(t.shape) != nil else { throw SafetensorsError.invalidWrite(reason: "tensor \(t.name) has an invalid shape \(t.shape)") }
        }
        // All tensors are written as F32, so the Python package's (dtype, name) order is name order.
        let ordered = tensors.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
        var json = "{"
        var first = true
        if let metadata {
            json += "\"__metadata__\":{"
            let keys = metadata.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            json += keys.map { SafetensorsJSON.quoted($0) + ":" + SafetensorsJSON.quoted(metadata[$0] ?? "") }.joined(separator: ",")
            json += "}"
            first = false
        }
        var offset = 0
        for t in ordered {
            let end = offset + (Tensor.elementCount(t.shape) ?? 0) * 4
            if !first { json += "," }
            first = false
            json += SafetensorsJSON.quoted(t.name) + ":{\"dtype\":\"F32\",\"shape\":["
                + t.shape.map(String.init).joined(separator: ",") + "],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        json += "}"
        var header = Array(json.utf8)
        header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
        guard header.count <= Self.maxHeaderBytes else {
            throw SafetensorsError.invalidWrite(reason: "the header would be \(header.count) bytes, above the cap of \(Self.maxHeaderBytes)")
        }
        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out += $0 }
        out += header
        return (out, ordered)
    }

    /// Appends float32 values as little-endian bytes (bit patterns, NaN payloads included, kept).
    static func appendLittleEndian(_ values: [Float], to out: inout [UInt8]) {
        #if _endian(little)
        values.withUnsafeBytes { out += $0 }
        #else
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
        #endif
    }

    static func readBytes(path: String) throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw SafetensorsError.missingFile(path: path, reason: "no such file")
        }
        guard !isDirectory.boolValue else { throw SafetensorsError.missingFile(path: path, reason: "is a folder") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SafetensorsError.missingFile(path: path, reason: "cannot be read")
        }
        return [UInt8](data)
    }
}

/// JSON text as `serde_json` writes it, so that headers match the Python package's byte for byte.
enum SafetensorsJSON {
    /// A JSON string literal: `"` and `\` escaped, `\b \f \n \r \t`, other controls as `\u00xx`, nothing else.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

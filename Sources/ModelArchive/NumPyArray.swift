/// A NumPy `.npy` array (format versions 1.0-3.0): its shape and its values as float32.
///
/// Supported element types: `|u1`, `|i1`, `<f4`, `>f4`, `<f8`, `>f8`, `<i4`, `<i8` (and big-endian forms);
/// C order only. Reading checks the header and sizes before touching the data.
public struct NumPyArray: Sendable, Hashable {
    public var shape: [Int]
    public var values: [Float]
    /// The dtype descriptor as written, such as `<f4`.
    public var descriptor: String

    public init(shape: [Int], values: [Float], descriptor: String = "<f4") {
        self.shape = shape
        self.values = values
        self.descriptor = descriptor
    }

    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] // \x93NUMPY

    /// Parses `.npy` bytes.
    ///
    /// - Throws: ``ArchiveError/invalid(path:location:reason:)`` naming the byte offset.
    public static func parse(_ bytes: [UInt8], path: String) throws -> NumPyArray {
        func fail(_ offset: Int, _ reason: String) -> ArchiveError { .invalid(path: path, location: "byte \(offset)", reason: reason) }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail(0, "not a .npy file (expected magic \\x93NUMPY)") }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail(bytes.count, "file ends inside the header length") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw fail(6, "npy format version \(major) is not supported (1 to 3 are)")
        }
        guard headerLength <= 1 << 20, headerStart + headerLength <= bytes.count else {
            throw fail(8, "header length \(headerLength) runs past the end of the file (\(bytes.count) bytes)")
        }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard let descr = field(header, "descr").flatMap(quoted) else { throw fail(headerStart, "header has no 'descr'") }
        guard let order = field(header, "fortran_order"), order.hasPrefix("False") else {
            throw fail(headerStart, "only C-order arrays are supported (fortran_order must be False)")
        }
        guard let shapeText = field(header, "shape"), let open = shapeText.firstIndex(of: "("), let close = shapeText.firstIndex(of: ")") else {
            throw fail(headerStart, "header has no 'shape' tuple")
        }
        var shape: [Int] = []
        for part in shapeText[shapeText.index(after: open)..<close].split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: " ")
            if trimmed.isEmpty { continue }
            guard let n = Int(trimmed), n >= 0 else { throw fail(headerStart, "shape entry '\(trimmed)' is not a size") }
            shape.append(n)
        }
        let (width, decode) = try decoder(descr, fail: { fail(headerStart, $0) })
        let dataStart = headerStart + headerLength
        guard let count = product(shape), let byteCount = count.multipliedReportingOverflow(by: width).overflow ? nil : count * width else {
            throw fail(headerStart, "shape \(shape) is too large")
        }
        guard bytes.count - dataStart == byteCount else {
            throw fail(dataStart, "shape \(shape) of \(descr) needs \(byteCount) data bytes, found \(bytes.count - dataStart)")
        }
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count { values[i] = decode(bytes, dataStart + i * width) }
        return NumPyArray(shape: shape, values: values, descriptor: descr)
    }

    /// Encodes as `.npy` version 1.0 with dtype `<f4` (or `|u1` when `asBytes`, values rounded and clamped).
    public func encoded(asBytes: Bool = false) -> [UInt8] {
        let descr = asBytes ? "|u1" : "<f4"
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var out = NumPyArray.magic + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        out += Array(header.utf8)
        if asBytes {
            out += values.map { UInt8(max(0, min(255, $0.rounded()))) }
        } else {
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
        }
        return out
    }

    private static func field(_ header: String, _ key: String) -> String? {
        guard let range = header.range(of: "'\(key)'") else { return nil }
        var rest = header[range.upperBound...].drop { $0 == " " }
        guard rest.first == ":" else { return nil }
        rest = rest.dropFirst().drop { $0 == " " }
        return String(rest)
    }

    private static func quoted(_ s: String) -> String? {
        guard let q = s.first, q == "'" || q == "\"" else { return nil }
        let body = s.dropFirst()
        guard let end = body.firstIndex(of: q) else { return nil }
        return String(body[..<end])
    }

    private static func product(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o || p > 1 << 31 { return nil }
            n = p
        }
        return n
    }

    private static func decoder(_ descr: String, fail: (String) -> ArchiveError) throws -> (Int, ([UInt8], Int) -> Float) {
        func uint(_ b: [UInt8], _ o: Int, _ n: Int, little: Bool) -> UInt64 {
            var v: UInt64 = 0
            for i in 0..<n { v |= UInt64(b[o + (little ? i : n - 1 - i)]) << (8 * UInt64(i)) }
            return v
        }
        let little = descr.first != ">"
        switch descr.dropFirst() {
        case "u1": return (1, { b, o in Float(b[o]) })
        case "i1": return (1, { b, o in Float(Int8(bitPattern: b[o])) })
        case "f4": return (4, { b, o in Float(bitPattern: UInt32(uint(b, o, 4, little: little))) })
        case "f8": return (8, { b, o in Float(Double(bitPattern: uint(b, o, 8, little: little))) })
        case "i4": return (4, { b, o in Float(Int32(bitPattern: UInt32(uint(b, o, 4, little: little)))) })
        case "i8": return (8, { b, o in Float(Int64(bitPattern: uint(b, o, 8, little: little))) })
        default: throw fail("dtype '\(descr)' is not supported (uint8, int8, int32, int64, float32 or float64)")
        }
    }
}

private extension Substring {
    func trimmingCharacters(in set: Character) -> String {
        String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}

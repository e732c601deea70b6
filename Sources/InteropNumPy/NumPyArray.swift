import ModelArchive

/// A NumPy `.npy` array (format versions 1.0-3.0): its shape and its values as float32.
///
/// Supported element types: `|u1`, `|i1`, `<f4`, `>f4`, `<f8`, `>f8`, `<i4`, `<i8` (and big-endian forms), in
/// C or Fortran order (Fortran-order data is reordered to C order). Reading checks the header and sizes before
/// touching the data. ``parseText(_:path:)`` and ``encodedText(_:)`` handle 0-d unicode arrays (`<U<n>`).
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
        var parser = NumPyStreamParser(path: path, total: bytes.count)
        try bytes.withUnsafeBytes { try parser.consume($0) }
        return try parser.finish()
    }

    /// Reorders Fortran-order (first axis fastest) values to C order (last axis fastest).
    static func cOrder(fortran values: [Float], shape: [Int]) -> [Float] {
        guard !values.isEmpty else { return values }
        var strides = [Int](repeating: 1, count: shape.count)
        for k in 1..<shape.count { strides[k] = strides[k - 1] * shape[k - 1] }
        var index = [Int](repeating: 0, count: shape.count)
        var out = [Float](repeating: 0, count: values.count)
        var source = 0
        for i in 0..<values.count {
            out[i] = values[source]
            // Advance the C-order odometer, keeping `source` = sum(index[k] * strides[k]).
            var k = shape.count - 1
            while k >= 0 {
                index[k] += 1
                source += strides[k]
                if index[k] < shape[k] { break }
                source -= strides[k] * shape[k]
                index[k] = 0
                k -= 1
            }
        }
        return out
    }

    /// Parses a 0-d unicode array (`<U<n>` or `>U<n>`, UCS-4, trailing NULs dropped) as NumPy writes for
    /// `np.array("text")`.
    ///
    /// - Throws: ``ArchiveError/invalid(path:location:reason:)`` naming the byte offset.
    public static func parseText(_ bytes: [UInt8], path: String) throws -> String {
        func fail(_ offset: Int, _ reason: String) -> ArchiveError { .invalid(path: path, location: "byte \(offset)", reason: reason) }
        let (headerStart, headerLength, header) = try headerText(bytes, total: bytes.count, path: path)
        guard let descr = field(header, "descr").flatMap(quoted), descr.count >= 3,
              descr.first == "<" || descr.first == ">", descr.dropFirst().first == "U",
              let length = Int(descr.dropFirst(2)), length >= 0, length <= 1 << 24 else {
            throw fail(headerStart, "expected a unicode string array ('<U<n>'), found descr \(field(header, "descr") ?? "none")")
        }
        guard let shapeText = field(header, "shape"), shapeText.hasPrefix("()") else {
            throw fail(headerStart, "expected a 0-d array (shape ()), found \(field(header, "shape") ?? "no shape")")
        }
        let dataStart = headerStart + headerLength
        guard bytes.count - dataStart == length * 4 else {
            throw fail(dataStart, "descr \(descr) needs \(length * 4) data bytes, found \(bytes.count - dataStart)")
        }
        let little = descr.first == "<"
        var scalars = String.UnicodeScalarView()
        for i in 0..<length {
            let o = dataStart + i * 4
            var v: UInt32 = 0
            for j in 0..<4 { v |= UInt32(bytes[o + (little ? j : 3 - j)]) << (8 * UInt32(j)) }
            if v == 0 { break }
            guard let scalar = Unicode.Scalar(v) else { throw fail(o, "code point \(v) is not a unicode scalar") }
            scalars.append(scalar)
        }
        return String(scalars)
    }

    /// Encodes a 0-d unicode array (`<U<n>`, version 1.0), as `np.save(f, np.array(text))` does.
    public static func encodedText(_ text: String) -> [UInt8] {
        let scalars = Array(text.unicodeScalars)
        var out = encodeHeader(descr: "<U\(scalars.count)", shapeText: "()")
        for s in scalars { withUnsafeBytes(of: s.value.littleEndian) { out += $0 } }
        return out
    }

    /// The header's start offset, its length in bytes and its text, after checking the magic, version and length.
    ///
    /// - Parameters:
    ///   - bytes: the start of the array, at least ``headerBytesNeeded(_:total:)`` bytes of it.
    ///   - total: the size of the whole array (the member's declared size when streaming).
    static func headerText(_ bytes: [UInt8], total: Int, path: String) throws -> (Int, Int, String) {
        func fail(_ offset: Int, _ reason: String) -> ArchiveError { .invalid(path: path, location: "byte \(offset)", reason: reason) }
        guard total >= 10, bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail(0, "not a .npy file (expected magic \\x93NUMPY)") }
        let headerLength: Int, headerStart: Int
        switch bytes[6] {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard total >= 12, bytes.count >= 12 else { throw fail(total, "file ends inside the header length") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw fail(6, "npy format version \(bytes[6]) is not supported (1 to 3 are)")
        }
        guard headerLength <= 1 << 20, headerStart + headerLength <= total, headerStart + headerLength <= bytes.count else {
            throw fail(8, "header length \(headerLength) runs past the end of the file (\(total) bytes)")
        }
        return (headerStart, headerLength, String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self))
    }

    /// How many bytes of an array of `total` bytes ``headerText(_:total:path:)`` needs, judged from the `prefix`
    /// read so far: the magic and lengths first, then the header (never more than `total`). A prefix that is not
    /// a `.npy` start needs no more: ``headerText(_:total:path:)`` says what is wrong with it.
    static func headerBytesNeeded(_ prefix: [UInt8], total: Int) -> Int {
        let lengths = min(12, total)
        guard prefix.count >= lengths else { return lengths }
        guard prefix.count >= 10, Array(prefix[0..<6]) == magic else { return prefix.count }
        let length: Int, start: Int
        switch prefix[6] {
        case 1: (length, start) = (Int(prefix[8]) | Int(prefix[9]) << 8, 10)
        case 2 where prefix.count >= 12, 3 where prefix.count >= 12: (length, start) = (Int(prefix[8]) | Int(prefix[9]) << 8 | Int(prefix[10]) << 16 | Int(prefix[11]) << 24, 12)
        default: return prefix.count
        }
        guard length <= 1 << 20 else { return prefix.count }
        return min(total, start + length)
    }

    /// Magic, version 1.0, and the header dict padded with spaces and a newline to a multiple of 64 bytes.
    private static func encodeHeader(descr: String, shapeText: String) -> [UInt8] {
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        return NumPyArray.magic + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)] + Array(header.utf8)
    }

    /// The header of ``encoded(asBytes:)`` for an array of `shape`: what precedes its values.
    static func encodedHeader(shape: [Int], asBytes: Bool) -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        return encodeHeader(descr: asBytes ? "|u1" : "<f4", shapeText: shapeText)
    }

    /// Encodes as `.npy` version 1.0 with dtype `<f4` (or `|u1` when `asBytes`, values rounded and clamped).
    public func encoded(asBytes: Bool = false) -> [UInt8] {
        var out = NumPyArray.encodedHeader(shape: shape, asBytes: asBytes)
        if asBytes {
            out += values.map { UInt8(max(0, min(255, $0.rounded()))) }
        } else {
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
        }
        return out
    }

    static func field(_ header: String, _ key: String) -> String? {
        guard let range = header.range(of: "'\(key)'") else { return nil }
        var rest = header[range.upperBound...].drop { $0 == " " }
        guard rest.first == ":" else { return nil }
        rest = rest.dropFirst().drop { $0 == " " }
        return String(rest)
    }

    static func quoted(_ s: String) -> String? {
        guard let q = s.first, q == "'" || q == "\"" else { return nil }
        let body = s.dropFirst()
        guard let end = body.firstIndex(of: q) else { return nil }
        return String(body[..<end])
    }

    static func product(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o || p > 1 << 31 { return nil }
            n = p
        }
        return n
    }

    static func decoder(_ descr: String, fail: (String) -> ArchiveError) throws -> (Int, ([UInt8], Int) -> Float) {
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

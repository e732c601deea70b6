import ModelArchive

/// What a `.npy` header says about the data that follows it, checked against the array's total size before any
/// value is read.
struct NumPyHeader {
    var descriptor: String
    var fortranOrder: Bool
    var shape: [Int]
    /// Where the values start.
    var dataStart: Int
    /// The number of values.
    var count: Int
    /// The size of one stored value, in bytes.
    var width: Int
    /// Decodes the value stored at a byte offset of a buffer.
    var decode: ([UInt8], Int) -> Float

    /// Parses and checks the header at the start of an array of `total` bytes.
    ///
    /// - Parameter prefix: at least ``NumPyArray/headerBytesNeeded(_:total:)`` bytes.
    /// - Throws: ``ArchiveError/invalid(path:location:reason:)`` naming the byte offset.
    init(prefix: [UInt8], total: Int, path: String) throws {
        func fail(_ offset: Int, _ reason: String) -> ArchiveError { .invalid(path: path, location: "byte \(offset)", reason: reason) }
        let (headerStart, headerLength, header) = try NumPyArray.headerText(prefix, total: total, path: path)
        guard let descr = NumPyArray.field(header, "descr").flatMap(NumPyArray.quoted) else { throw fail(headerStart, "header has no 'descr'") }
        guard let order = NumPyArray.field(header, "fortran_order"), order.hasPrefix("False") || order.hasPrefix("True") else {
            throw fail(headerStart, "header has no 'fortran_order' True or False")
        }
        guard let shapeText = NumPyArray.field(header, "shape"), let open = shapeText.firstIndex(of: "("), let close = shapeText.firstIndex(of: ")") else {
            throw fail(headerStart, "header has no 'shape' tuple")
        }
        var shape: [Int] = []
        for part in shapeText[shapeText.index(after: open)..<close].split(separator: ",") {
            let trimmed = String(part.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
            if trimmed.isEmpty { continue }
            guard let n = Int(trimmed), n >= 0 else { throw fail(headerStart, "shape entry '\(trimmed)' is not a size") }
            shape.append(n)
        }
        let (width, decode) = try NumPyArray.decoder(descr, fail: { fail(headerStart, $0) })
        let dataStart = headerStart + headerLength
        guard let count = NumPyArray.product(shape), let byteCount = count.multipliedReportingOverflow(by: width).overflow ? nil : count * width else {
            throw fail(headerStart, "shape \(shape) is too large")
        }
        guard total - dataStart == byteCount else {
            throw fail(dataStart, "shape \(shape) of \(descr) needs \(byteCount) data bytes, found \(total - dataStart)")
        }
        self.descriptor = descr
        self.fortranOrder = order.hasPrefix("True")
        self.shape = shape
        self.dataStart = dataStart
        self.count = count
        self.width = width
        self.decode = decode
    }
}

/// Parses a `.npy` array as its bytes arrive (a zip member being inflated): the header first, then each value
/// decoded straight into the float32 values, so that the array's bytes are never held beside its values.
struct NumPyStreamParser {
    let path: String
    /// The size of the whole array (the member's declared size).
    let total: Int
    private var prefix: [UInt8] = []
    /// The header, once its bytes have arrived.
    private(set) var header: NumPyHeader?
    private var values: [Float] = []
    /// Values decoded so far.
    private var filled = 0
    /// The bytes of a value split between two chunks.
    private var carry: [UInt8] = []

    init(path: String, total: Int) {
        self.path = path
        self.total = total
    }

    /// Takes the next bytes of the array.
    ///
    /// - Throws: ``ArchiveError/invalid(path:location:reason:)`` for a bad header.
    mutating func consume(_ chunk: UnsafeRawBufferPointer) throws {
        var rest = chunk[...]
        if header == nil {
            while header == nil {
                let needed = NumPyArray.headerBytesNeeded(prefix, total: total)
                if prefix.count < needed {
                    let take = min(needed - prefix.count, rest.count)
                    prefix += rest.prefix(take)
                    rest = rest.dropFirst(take)
                    if prefix.count < needed { return }
                    continue
                }
                let parsed = try NumPyHeader(prefix: prefix, total: total, path: path)
                header = parsed
                values = [Float](repeating: 0, count: parsed.count)
                // Bytes of the prefix past the header are values.
                let extra = Array(prefix[parsed.dataStart...])
                prefix = []
                extra.withUnsafeBytes { decode(UnsafeRawBufferPointer(rebasing: $0[...]), parsed) }
            }
        }
        guard let header else { return }
        decode(UnsafeRawBufferPointer(rebasing: rest), header)
    }

    /// Decodes data bytes into ``values``; bytes past the last value are ignored (the header check proved the
    /// array's size, and the caller counts the member's bytes against it).
    private mutating func decode(_ chunk: UnsafeRawBufferPointer, _ header: NumPyHeader) {
        var bytes = chunk[...]
        if !carry.isEmpty {
            let take = min(header.width - carry.count, bytes.count)
            carry += bytes.prefix(take)
            bytes = bytes.dropFirst(take)
            guard carry.count == header.width else { return }
            if filled < values.count { values[filled] = header.decode(carry, 0) }
            filled += 1
            carry = []
        }
        let whole = min(bytes.count / header.width, max(values.count - filled, 0))
        if whole > 0 {
            let data = UnsafeRawBufferPointer(rebasing: bytes.prefix(whole * header.width))
            if Self.isNative(header) {
                // Same layout in the member and in memory: copy straight into the values.
                values.withUnsafeMutableBytes { out in
                    UnsafeMutableRawBufferPointer(rebasing: out[(filled * 4)...]).copyMemory(from: data)
                }
            } else {
                let block = Array(data)
                for i in 0..<whole { values[filled + i] = header.decode(block, i * header.width) }
            }
            filled += whole
            bytes = bytes.dropFirst(whole * header.width)
        }
        if filled < values.count, !bytes.isEmpty { carry = Array(bytes) }
    }

    /// True for float32 in this machine's byte order.
    private static func isNative(_ header: NumPyHeader) -> Bool {
        #if _endian(little)
        header.descriptor == "<f4"
        #else
        header.descriptor == ">f4"
        #endif
    }

    /// The array, once every byte has arrived (values in C order).
    ///
    /// - Throws: ``ArchiveError/invalid(path:location:reason:)`` when the bytes ended inside the header or the
    ///   values.
    mutating func finish() throws -> NumPyArray {
        if header == nil { header = try NumPyHeader(prefix: prefix, total: total, path: path) }
        guard let header else { throw ArchiveError.invalid(path: path, location: nil, reason: "no header") }
        guard filled == header.count else {
            throw ArchiveError.invalid(path: path, location: "byte \(header.dataStart + filled * header.width)",
                                       reason: "the data ends after \(filled) of \(header.count) values")
        }
        var out = values
        values = []
        if header.fortranOrder && header.shape.count > 1 { out = NumPyArray.cOrder(fortran: out, shape: header.shape) }
        return NumPyArray(shape: header.shape, values: out, descriptor: header.descriptor)
    }
}

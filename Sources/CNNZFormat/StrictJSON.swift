/// A strict RFC 8259 JSON parser for the CNNZ header (`Schemas/cnnz.md` section 4.5): it keeps what Foundation's
/// decoders throw away, so that the header's rules can be checked on the text itself.
///
/// - Every value carries its byte offset in the text, for error messages.
/// - Numbers keep their text: whether a value is an integer is decided by its token (`8` is, `8.0` and `8e0`
///   are not), and integers of any size are compared exactly.
/// - Objects keep every key in order; a key given twice is an error (Foundation keeps the last silently).
/// - Refused: a byte order mark, text that is not UTF-8, a lone UTF-16 surrogate in a `\u` escape, control
///   characters in strings, the non-standard `NaN`/`Infinity` literals, anything after the value, and nesting
///   deeper than ``maxDepth``.
struct StrictJSON {
    /// A parsed value and where it starts in the text.
    struct Node {
        var value: Value
        /// Where the value starts in the text.
        var offset: Int
        /// Where it ends (one past its last byte).
        var end: Int
    }

    indirect enum Value {
        case null
        case bool(Bool)
        /// The number's token, exactly as written.
        case number(String)
        case string(String)
        case array([Node])
        /// Keys in the order written (unique: duplicates are refused while parsing).
        case object([(key: String, node: Node)])
    }

    /// A parse failure: the byte offset in the text and what is wrong there.
    struct Failure: Error {
        var offset: Int
        var reason: String
    }

    /// Objects and arrays nested deeper than this are refused (a header nests 6 deep).
    static let maxDepth = 64

    private let bytes: [UInt8]
    private var p = 0

    /// Parses one JSON value filling the whole text (whitespace around it allowed).
    static func parse(_ bytes: [UInt8]) throws(Failure) -> Node {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            throw Failure(offset: 0, reason: "the header starts with a UTF-8 byte order mark (EF BB BF); it must start with '{'")
        }
        if let bad = firstInvalidUTF8(bytes) { throw Failure(offset: bad, reason: "the header is not valid UTF-8") }
        var parser = StrictJSON(bytes: bytes)
        parser.skipSpace()
        let node = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.p == bytes.count else { throw Failure(offset: parser.p, reason: "unexpected \(parser.shown) after the JSON value") }
        return node
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    /// The byte at the cursor, for messages.
    private var shown: String {
        guard p < bytes.count else { return "end of header" }
        let b = bytes[p]
        return (0x21..<0x7F).contains(b) ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x" + String(b, radix: 16)
    }

    private func fail(_ reason: String) -> Failure { Failure(offset: p, reason: reason) }

    private mutating func skipSpace() {
        while p < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[p]) { p += 1 }
    }

    private mutating func value(depth: Int) throws(Failure) -> Node {
        let start = p
        let value = try rawValue(depth: depth)
        return Node(value: value, offset: start, end: p)
    }

    private mutating func rawValue(depth: Int) throws(Failure) -> Value {
        guard p < bytes.count else { throw fail("unexpected end of header, expected a value") }
        switch bytes[p] {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard depth < Self.maxDepth else { throw fail("JSON nested deeper than \(Self.maxDepth) levels") }
            return bytes[p] == UInt8(ascii: "{") ? try object(depth: depth) : try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw fail("unexpected \(shown), expected a JSON value")
        }
    }

    private mutating func literal(_ word: String) throws(Failure) {
        let w = Array(word.utf8)
        guard bytes.count - p >= w.count, Array(bytes[p..<(p + w.count)]) == w else { throw fail("unexpected \(shown), expected a JSON value") }
        p += w.count
    }

    private mutating func object(depth: Int) throws(Failure) -> Value {
        p += 1
        var pairs: [(key: String, node: Node)] = []
        var seen: Set<String> = []
        skipSpace()
        if p < bytes.count, bytes[p] == UInt8(ascii: "}") { p += 1; return .object([]) }
        while true {
            skipSpace()
            let keyOffset = p
            guard p < bytes.count, bytes[p] == UInt8(ascii: "\"") else { throw fail("unexpected \(shown), expected a key in quotes") }
            let key = try string()
            guard seen.insert(key).inserted else {
                throw Failure(offset: keyOffset, reason: "duplicate key \"\(key)\" in one object (each key may appear once)")
            }
            skipSpace()
            guard p < bytes.count, bytes[p] == UInt8(ascii: ":") else { throw fail("unexpected \(shown), expected ':'") }
            p += 1
            skipSpace()
            pairs.append((key, try value(depth: depth + 1)))
            if try closes("}") { return .object(pairs) }
        }
    }

    /// After an item: true past the closing bracket, false past a comma (another item follows).
    private mutating func closes(_ bracket: Unicode.Scalar) throws(Failure) -> Bool {
        skipSpace()
        guard p < bytes.count else { throw fail("unexpected end of header, expected ',' or '\(bracket)'") }
        let b = bytes[p]
        guard b == UInt8(ascii: ",") || b == UInt8(ascii: bracket) else { throw fail("unexpected \(shown), expected ',' or '\(bracket)'") }
        p += 1
        return b != UInt8(ascii: ",")
    }

    private mutating func array(depth: Int) throws(Failure) -> Value {
        p += 1
        var items: [Node] = []
        skipSpace()
        if p < bytes.count, bytes[p] == UInt8(ascii: "]") { p += 1; return .array([]) }
        while true {
            skipSpace()
            items.append(try value(depth: depth + 1))
            if try closes("]") { return .array(items) }
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, returned as written.
    private mutating func number() throws(Failure) -> String {
        let start = p
        func digits() -> Int {
            let from = p
            while p < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[p]) { p += 1 }
            return p - from
        }
        if bytes[p] == UInt8(ascii: "-") { p += 1 }
        guard p < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[p]) else { throw fail("unexpected \(shown) in a number") }
        if bytes[p] == UInt8(ascii: "0") {
            p += 1
            if p < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[p]) { throw fail("a number must not have leading zeros") }
        } else {
            _ = digits()
        }
        if p < bytes.count, bytes[p] == UInt8(ascii: ".") {
            p += 1
            guard digits() > 0 else { throw fail("unexpected \(shown) in a number, expected a digit after '.'") }
        }
        if p < bytes.count, bytes[p] == UInt8(ascii: "e") || bytes[p] == UInt8(ascii: "E") {
            p += 1
            if p < bytes.count, bytes[p] == UInt8(ascii: "+") || bytes[p] == UInt8(ascii: "-") { p += 1 }
            guard digits() > 0 else { throw fail("unexpected \(shown) in a number, expected a digit in the exponent") }
        }
        return String(decoding: bytes[start..<p], as: UTF8.self)
    }

    private mutating func string() throws(Failure) -> String {
        p += 1
        var out: [UInt8] = []
        while true {
            guard p < bytes.count else { throw fail("unexpected end of header inside a string") }
            let b = bytes[p]
            switch b {
            case UInt8(ascii: "\""):
                p += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                p += 1
                guard p < bytes.count else { throw fail("unexpected end of header inside a string") }
                let e = bytes[p]
                p += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    let escape = p - 2
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard bytes.count - p >= 6, bytes[p] == UInt8(ascii: "\\"), bytes[p + 1] == UInt8(ascii: "u") else {
                            throw Failure(offset: escape, reason: "a \\u escape of a lone UTF-16 surrogate is not a character")
                        }
                        p += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else {
                            throw Failure(offset: escape, reason: "a \\u escape of a lone UTF-16 surrogate is not a character")
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        throw Failure(offset: escape, reason: "a \\u escape of a lone UTF-16 surrogate is not a character")
                    }
                    // Not a surrogate, so a valid scalar.
                    out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8))
                default:
                    throw Failure(offset: p - 2, reason: "unknown escape '\\\(Character(Unicode.Scalar(e)))' in a string")
                }
            default:
                guard b >= 0x20 else { throw fail("control character 0x\(String(b, radix: 16)) in a string (escape it)") }
                out.append(b)
                p += 1
            }
        }
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard bytes.count - p >= 4 else { throw fail("unexpected end of header in a \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[p]
            let d: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
            default: throw fail("unexpected \(shown) in a \\u escape, expected 4 hex digits")
            }
            v = v << 4 | UInt32(d)
            p += 1
        }
        return v
    }

    /// The offset of the first byte that breaks UTF-8 (overlong forms, surrogates and values above U+10FFFF
    /// included), or nil.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b < 0x80 { i += 1; continue }
            let (count, low, high): (Int, UInt8, UInt8)
            switch b {
            case 0xC2...0xDF: (count, low, high) = (1, 0x80, 0xBF)
            case 0xE0: (count, low, high) = (2, 0xA0, 0xBF)
            case 0xE1...0xEC, 0xEE...0xEF: (count, low, high) = (2, 0x80, 0xBF)
            case 0xED: (count, low, high) = (2, 0x80, 0x9F)
            case 0xF0: (count, low, high) = (3, 0x90, 0xBF)
            case 0xF1...0xF3: (count, low, high) = (3, 0x80, 0xBF)
            case 0xF4: (count, low, high) = (3, 0x80, 0x8F)
            default: return i
            }
            guard bytes.count - i > count else { return i }
            guard (low...high).contains(bytes[i + 1]) else { return i }
            for k in 2..<(count + 1) where !(0x80...0xBF).contains(bytes[i + k]) { return i }
            i += count + 1
        }
        return nil
    }
}

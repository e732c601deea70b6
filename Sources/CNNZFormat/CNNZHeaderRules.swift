import ConvNet

/// What each value of the header must be (`Schemas/cnnz.md` section 4.5), checked on the strict parse
/// (``StrictJSON``) before the header is decoded, so that a reader refuses exactly what the spec refuses and
/// says which key is wrong and why.
indirect enum HeaderRule: Sendable {
    /// An integer token (`0|[1-9][0-9]*`: no sign, fraction or exponent) whose value lies in the range.
    case integer(ClosedRange<UInt64>)
    /// A JSON number, or for ``NumberRange/any`` also the strings `NaN`, `Infinity`, `-Infinity`; float64, or
    /// float32 when `float32`: its value rounded to that type must be finite, and zero only if it is zero.
    case number(NumberRange, float32: Bool = false)
    case string
    /// One of these strings.
    case oneOf([String])
    /// 1 to 16 lowercase hex digits (a 64-bit word).
    case hexWord
    case bool
    /// An array of values, of exactly `count` items when given.
    case array(HeaderRule, count: Int?)
    /// An object with these keys (`true`: required). Open objects ignore other keys, closed ones refuse them.
    case object([String: (HeaderRule, Bool)], open: Bool)
    /// An object with any keys, every value following the rule.
    case map(HeaderRule)
    /// The architecture: closed objects throughout (``ConvNet/Architecture/checkSchema(json:)``), every
    /// number but the preprocessing's an integer token.
    case architecture

    /// The ranges a number may take.
    enum NumberRange: Sendable {
        /// Any finite number, or a non-finite one written as a string.
        case any
        /// 0 to 1 (an accuracy).
        case unit
        /// 0 to below 1 (momentum, Adam's betas).
        case belowOne
        /// Above 0 (learning rate, epsilon).
        case positive

        func allows(_ v: Double) -> Bool {
            switch self {
            case .any: v.isFinite
            case .unit: v >= 0 && v <= 1
            case .belowOne: v >= 0 && v < 1
            case .positive: v > 0
            }
        }

        var text: String {
            switch self {
            case .any: "a number (or \"NaN\", \"Infinity\", \"-Infinity\")"
            case .unit: "a number from 0 to 1"
            case .belowOne: "a number from 0 to below 1"
            case .positive: "a number above 0"
            }
        }
    }

    static let int63: ClosedRange<UInt64> = 0...UInt64(Int64.max)
    static let counter: HeaderRule = .integer(int63)

    /// The whole header (section 4.1).
    static let header: HeaderRule = .object([
        "architecture": (.architecture, true),
        "chunk_size": (counter, true),
        "metadata": (.map(.string), true),
        "tensors": (.array(tensor, count: nil), true),
        "training_state": (trainingState, false),
        "probes": (.object(["source": (.string, true)], open: true), false),
    ], open: true)

    /// One tensor entry (section 4.2).
    static let tensor: HeaderRule = .object([
        "name": (.string, true), "role": (.string, true), "dtype": (.string, true), "codec": (.string, true),
        "shape": (.array(counter, count: nil), true),
        "lossy": (.bool, false),
        "chunks": (.array(.object([
            "offset": (.integer(0...UInt64.max), true),
            "stored": (.integer(0...UInt64.max), true),
            "crc32": (.integer(0...UInt64(UInt32.max)), true),
        ], open: true), count: nil), true),
    ], open: true)

    /// `training_state` (section 4.1).
    static let trainingState: HeaderRule = .object([
        "epoch": (counter, true), "step": (counter, true), "position": (counter, true),
        "batch_size": (.integer(1...UInt64(Int64.max)), true),
        "optimizer": (.object([
            "kind": (.oneOf(OptimizerKind.allCases.map(\.rawValue)), true),
            "learningRate": (.number(.positive, float32: true), true), "momentum": (.number(.belowOne, float32: true), true),
            "nesterov": (.bool, true), "beta1": (.number(.belowOne, float32: true), true), "beta2": (.number(.belowOne, float32: true), true),
            "epsilon": (.number(.positive, float32: true), true),
        ], open: false), true),
        "rng_state": (.array(.hexWord, count: 4), true),
        "seed": (.integer(0...UInt64.max), true),
        "history": (.array(.object(["loss": (.number(.any), true), "trainAccuracy": (.number(.unit), true),
                                    "testAccuracy": (.number(.unit), false)], open: true), count: nil), true),
        "curve": (.array(.object(["step": (.integer(1...UInt64(Int64.max)), true), "epoch": (.integer(1...UInt64(Int64.max)), true),
                                  "examples": (.integer(1...UInt64(Int64.max)), true), "loss": (.number(.any), true),
                                  "accuracy": (.number(.unit), true)], open: true), count: nil), false),
        "dataset": (.object(["name": (.string, true), "trainCount": (counter, true), "fingerprint": (.string, true)], open: true), false),
        "epoch_loss_sum": (.number(.any), true),
        "epoch_correct": (counter, true),
    ], open: true)

    /// Checks `node` (at `path`, for messages) against the rule.
    ///
    /// - Throws: ``HeaderRuleFailure`` at the offending value.
    func check(_ node: StrictJSON.Node, at path: String, in text: [UInt8]) throws(HeaderRuleFailure) {
        func fail(_ reason: String, _ at: StrictJSON.Node = node) -> HeaderRuleFailure {
            HeaderRuleFailure(offset: at.offset, reason: (path.isEmpty ? "" : "at \(path): ") + reason)
        }
        switch (self, node.value) {
        case let (.integer(range), .number(token)):
            let bounds = "an integer from \(range.lowerBound) to \(range.upperBound)"
            guard let parsed = Self.integerValue(token) else {
                throw fail(token.hasPrefix("-") && !token.contains(where: { ".eE".contains($0) })
                    ? "must be \(bounds), found \(token) (no sign allowed)"
                    : "must be \(bounds) written with digits only (no fraction or exponent), found \(token)")
            }
            guard let v = parsed else { throw fail("must be \(bounds), found \(token), which does not fit in 64 bits") }
            guard range.contains(v) else { throw fail("must be \(bounds), found \(token)") }
        case let (.number(range, float32), .number(token)):
            let v: Double
            do throws(HeaderRuleFailure) {
                v = try Self.floatValue(token, float32: float32)
            } catch {
                throw fail(error.reason + (range == .any ? " (write \"Infinity\" or \"-Infinity\")" : ""))
            }
            guard range.allows(v) else { throw fail("must be \(range.text)\(float32 ? " as float32" : ""), found \(token)") }
        case let (.number(.any, _), .string(s)) where ["NaN", "Infinity", "-Infinity"].contains(s):
            break
        case (.string, .string(_)), (.bool, .bool(_)):
            break
        case let (.oneOf(options), .string(s)):
            guard options.contains(s) else { throw fail("must be one of \(options.map { "\"\($0)\"" }.joined(separator: ", ")), found \"\(s)\"") }
        case let (.hexWord, .string(s)):
            guard (1...16).contains(s.utf8.count), s.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
                throw fail("must be 1 to 16 lowercase hex digits, found \"\(s)\"")
            }
        case let (.array(item, count), .array(items)):
            if let count, items.count != count { throw fail("must hold exactly \(count) items, found \(items.count)") }
            for (i, x) in items.enumerated() { try item.check(x, at: "\(path)[\(i)]", in: text) }
        case let (.map(rule), .object(pairs)):
            for (key, value) in pairs { try rule.check(value, at: Self.join(path, key), in: text) }
        case let (.object(fields, open), .object(pairs)):
            for (key, value) in pairs {
                if let field = fields[key] {
                    try field.0.check(value, at: Self.join(path, key), in: text)
                } else if !open {
                    throw fail("unknown key \"\(key)\" (this object is closed: allowed keys are \(fields.keys.sorted().joined(separator: ", ")))", value)
                }
            }
            let present = Set(pairs.map(\.key))
            if let missing = fields.filter({ $0.value.1 && !present.contains($0.key) }).keys.sorted().first {
                throw fail("missing key \"\(missing)\"")
            }
        case (.architecture, .object):
            try Self.checkArchitectureIntegers(node, at: path)
            do {
                try Architecture.checkSchema(json: text[node.offset..<node.end])
            } catch {
                throw HeaderRuleFailure(offset: node.offset, reason: "\(error)")
            }
        default:
            throw fail("must be \(description), found \(Self.kind(of: node.value))")
        }
    }

    /// Every number of the architecture but `preprocessing`'s is an integer (a count, size or version);
    /// `preprocessing`'s are within float32's range.
    private static func checkArchitectureIntegers(_ node: StrictJSON.Node, at path: String) throws(HeaderRuleFailure) {
        switch node.value {
        case let .object(pairs):
            for (key, value) in pairs {
                if key == "preprocessing" && path == "architecture", case let .object(numbers) = value.value {
                    // scale and offset are float32: a number beyond float32's range is refused, not rounded to infinity.
                    for (name, number) in numbers {
                        guard case let .number(token) = number.value else { continue }
                        do throws(HeaderRuleFailure) {
                            _ = try floatValue(token, float32: true)
                        } catch {
                            throw HeaderRuleFailure(offset: number.offset, reason: "at \(path).preprocessing.\(name): \(error.reason)")
                        }
                    }
                } else {
                    try checkArchitectureIntegers(value, at: join(path, key))
                }
            }
        case let .array(items):
            for (i, x) in items.enumerated() { try checkArchitectureIntegers(x, at: "\(path)[\(i)]") }
        case let .number(token):
            guard integerValue(token) != nil else {
                throw HeaderRuleFailure(offset: node.offset, reason: "at \(path): must be an integer (digits only, no sign, fraction or exponent), found \(token)")
            }
        default:
            break
        }
    }

    /// A number token's value rounded to float64 (or float32): refused when that is infinite, or zero for a
    /// token that is not zero (`1e400`, `1e-400`; `1e39` and `1e-50` for float32), as JSON decoders refuse them.
    static func floatValue(_ token: String, float32: Bool) throws(HeaderRuleFailure) -> Double {
        let type = float32 ? "float32" : "a 64-bit float"
        guard var v = Double(token) else { throw HeaderRuleFailure(offset: 0, reason: "\(token) is not a number") }
        if float32 { v = Double(Float(v)) }
        guard v.isFinite else { throw HeaderRuleFailure(offset: 0, reason: "\(token) is out of the range of \(type)") }
        let mantissa = token.prefix { $0 != "e" && $0 != "E" }
        guard v != 0 || !mantissa.contains(where: { ("1"..."9").contains($0) }) else {
            throw HeaderRuleFailure(offset: 0, reason: "\(token) is too small for \(type) (it would round to 0)")
        }
        return v
    }

    /// nil when the token is not an integer token; `.some(nil)` when it is but does not fit in 64 bits.
    static func integerValue(_ token: String) -> UInt64?? {
        guard !token.isEmpty, token.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return .some(UInt64(token))
    }

    private static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private var description: String {
        switch self {
        case .integer: "an integer"
        case let .number(range, _): range.text
        case .string, .oneOf, .hexWord: "a string"
        case .bool: "true or false"
        case .array: "an array"
        case .object, .map, .architecture: "an object"
        }
    }

    private static func kind(of value: StrictJSON.Value) -> String {
        switch value {
        case .null: "null"
        case let .bool(b): b ? "true" : "false"
        case let .number(t): t
        case let .string(s): "the string \"\(s)\""
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// A header value that breaks a rule of ``HeaderRule``: its offset in the header and the reason.
struct HeaderRuleFailure: Error {
    var offset: Int
    var reason: String
}

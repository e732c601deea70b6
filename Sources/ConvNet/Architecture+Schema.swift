import Foundation

// The rules of `Schemas/architecture.schema.json` that `Codable` decoding lets through (unknown keys, an empty
// name, values of the wrong kind), checked on the JSON itself so that a message can name the key, its path and
// the key that was probably meant.

extension Architecture {
    /// The keys the schema allows in each object, by where the object is.
    static let rootKeys = ["version", "input", "preprocessing", "layers"]
    static let inputKeys = ["height", "width", "channels"]
    static let preprocessingKeys = ["scale", "offset"]
    /// Layer keys by `type`, `type` and `name` included.
    static let layerKeys: [String: [String]] = [
        "conv2d": ["type", "name", "filters", "kernel", "stride", "padding", "bias"],
        "maxpool2d": ["type", "name", "pool", "stride", "padding"],
        "dense": ["type", "name", "units", "bias"],
        "relu": ["type", "name"],
        "flatten": ["type", "name"],
        "softmax": ["type", "name"],
    ]
    static let layerTypes = ["conv2d", "relu", "maxpool2d", "flatten", "dense", "softmax"]

    /// Checks architecture JSON against every rule of `Schemas/architecture.schema.json` (shapes that fit are
    /// ``validate()``'s part).
    ///
    /// - Throws: ``ConvNetError/invalidArchitecture(layer:reason:)`` whose reason names the JSON path (such as
    ///   `layers[0].kernal`), what is wrong, and for an unknown key the closest known one.
    public static func checkSchema(json: some DataProtocol) throws {
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: Data(json), options: [.fragmentsAllowed])
        } catch {
            throw ConvNetError.invalidArchitecture(layer: nil, reason: "malformed JSON: \((error as NSError).userInfo[NSDebugDescriptionErrorKey] ?? error)")
        }
        let checker = SchemaChecker()
        try checker.object(root, at: "", keys: rootKeys, required: ["input", "layers"]) { key, value, path in
            switch key {
            case "version":
                guard checker.integer(value) == jsonVersion else {
                    throw checker.fail(path, "architecture version \(SchemaChecker.show(value)) is not supported (this build reads version \(jsonVersion))")
                }
            case "input":
                try checker.object(value, at: path, keys: inputKeys, required: inputKeys) { _, v, p in try checker.positiveInteger(v, at: p) }
            case "preprocessing":
                try checker.object(value, at: path, keys: preprocessingKeys, required: preprocessingKeys) { _, v, p in
                    guard checker.number(v) != nil else { throw checker.fail(p, "must be a number, found \(SchemaChecker.show(v))") }
                }
            default:
                guard let layers = value as? [Any] else { throw checker.fail(path, "must be an array of layers, found \(SchemaChecker.show(value))") }
                for (i, layer) in layers.enumerated() { try checker.layer(layer, at: "\(path)[\(i)]") }
            }
        }
    }
}

/// Walks architecture JSON, failing with the path of the first value that breaks a schema rule.
struct SchemaChecker {
    func fail(_ path: String, _ reason: String) -> ConvNetError {
        .invalidArchitecture(layer: nil, reason: path.isEmpty ? reason : "at \(path): \(reason)")
    }

    func integer(_ value: Any) -> Int? {
        guard let n = value as? NSNumber, !SchemaChecker.isBool(n) else { return nil }
        let d = n.doubleValue
        guard d.isFinite, d == d.rounded(), abs(d) < 1e15 else { return nil }
        return Int(d)
    }

    func number(_ value: Any) -> Double? {
        guard let n = value as? NSNumber, !SchemaChecker.isBool(n) else { return nil }
        return n.doubleValue
    }

    /// JSON `true`/`false` (a boolean NSNumber; `objCType` is `c` on Linux and macOS alike).
    static func isBool(_ n: NSNumber) -> Bool {
        String(cString: n.objCType) == "c"
    }

    /// A JSON value as it would be written, for messages.
    static func show(_ value: Any) -> String {
        if let s = value as? String { return "\"\(s)\"" }
        if value is NSNull { return "null" }
        if let n = value as? NSNumber { return isBool(n) ? (n.boolValue ? "true" : "false") : "\(n)" }
        if value is [Any] { return "an array" }
        if value is [String: Any] { return "an object" }
        return "\(value)"
    }

    func positiveInteger(_ value: Any, at path: String) throws {
        guard let n = integer(value), n >= 1 else { throw fail(path, "must be an integer of 1 or more, found \(SchemaChecker.show(value))") }
    }

    /// Checks an object's keys (unknown ones named with the closest known key) and required keys, then each
    /// known value with `body(key, value, path)`.
    func object(_ value: Any, at path: String, keys: [String], required: [String], what: String? = nil,
                body: (String, Any, String) throws -> Void) throws {
        guard let dictionary = value as? [String: Any] else {
            throw fail(path, "must be an object, found \(SchemaChecker.show(value))")
        }
        for key in dictionary.keys.sorted() where !keys.contains(key) {
            let here = path.isEmpty ? key : "\(path).\(key)"
            var reason = "unknown key '\(key)'" + (what.map { " for \($0)" } ?? "")
            if let guess = SchemaChecker.closest(to: key, in: keys) { reason += "; did you mean '\(guess)'?" }
            reason += " (allowed: \(keys.joined(separator: ", ")))"
            throw ConvNetError.invalidArchitecture(layer: nil, reason: "at \(here): \(reason)")
        }
        for key in required where dictionary[key] == nil {
            throw fail(path, "missing key '\(key)'")
        }
        for key in keys {
            if let v = dictionary[key] { try body(key, v, path.isEmpty ? key : "\(path).\(key)") }
        }
    }

    func layer(_ value: Any, at path: String) throws {
        guard let dictionary = value as? [String: Any] else { throw fail(path, "a layer must be an object, found \(SchemaChecker.show(value))") }
        guard let type = dictionary["type"] else { throw fail(path, "missing key 'type' (one of \(Architecture.layerTypes.joined(separator: ", ")))") }
        guard let name = type as? String, let keys = Architecture.layerKeys[name] else {
            throw fail(path + ".type", "unknown layer type \(SchemaChecker.show(type)) (expected \(Architecture.layerTypes.joined(separator: ", ")))")
        }
        let required = ["type"] + (name == "conv2d" ? ["filters"] : name == "dense" ? ["units"] : [])
        try object(dictionary, at: path, keys: keys, required: required, what: "a \(name) layer") { key, v, p in
            switch key {
            case "type":
                break
            case "name":
                guard let s = v as? String else { throw fail(p, "must be a string, found \(SchemaChecker.show(v))") }
                guard !s.isEmpty else { throw fail(p, "must not be empty (leave the key out for an automatic name)") }
                guard !s.contains(".") else { throw fail(p, "\"\(s)\" must not contain '.' (tensor names are LAYER.kernel)") }
            case "filters", "units":
                try positiveInteger(v, at: p)
            case "kernel", "stride", "pool":
                guard let pair = v as? [Any], pair.count == 2, pair.allSatisfy({ (integer($0) ?? 0) >= 1 }) else {
                    throw fail(p, "must be 2 integers of 1 or more, [height, width], found \(pairText(v))")
                }
            case "padding":
                guard let s = v as? String, s == "valid" || s == "same" else {
                    throw fail(p, "must be \"valid\" or \"same\", found \(SchemaChecker.show(v))")
                }
            case "bias":
                guard let n = v as? NSNumber, SchemaChecker.isBool(n) else { throw fail(p, "must be true or false, found \(SchemaChecker.show(v))") }
            default:
                break
            }
        }
    }

    private func pairText(_ value: Any) -> String {
        guard let items = value as? [Any] else { return SchemaChecker.show(value) }
        return "[" + items.map(SchemaChecker.show).joined(separator: ", ") + "]"
    }

    /// The known key a mistyped one most likely meant: the nearest by edit distance, if near enough.
    static func closest(to key: String, in keys: [String]) -> String? {
        let scored = keys.map { ($0, editDistance(key.lowercased(), $0)) }.min { $0.1 < $1.1 }
        guard let (best, distance) = scored, distance <= max(2, best.count / 3) else { return nil }
        return best
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        var row = Array(0...y.count)
        for i in 1...max(x.count, 1) where !x.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: y.count, by: 1) {
                let old = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (x[i - 1] == y[j - 1] ? 0 : 1))
                previous = old
            }
        }
        return x.isEmpty ? y.count : row[y.count]
    }
}

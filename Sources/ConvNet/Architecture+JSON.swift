import Foundation

// Architecture JSON, as specified by `Schemas/architecture.schema.json`.

extension ActivationShape: Codable {
    private enum CodingKeys: String, CodingKey { case height, width, channels }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(height: try c.decode(Int.self, forKey: .height), width: try c.decode(Int.self, forKey: .width),
                  channels: try c.decode(Int.self, forKey: .channels))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(height, forKey: .height)
        try c.encode(width, forKey: .width)
        try c.encode(channels, forKey: .channels)
    }
}

extension Layer: Codable {
    private enum CodingKeys: String, CodingKey {
        case type, name, filters, kernel, stride, padding, bias, pool, units
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .type)
        let name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        let kind: LayerKind
        switch type {
        case "conv2d":
            kind = .conv2d(Conv2DSpec(
                filters: try c.decode(Int.self, forKey: .filters),
                kernel: try c.decodeIfPresent([Int].self, forKey: .kernel) ?? [3, 3],
                stride: try c.decodeIfPresent([Int].self, forKey: .stride) ?? [1, 1],
                padding: try c.decodeIfPresent(Padding.self, forKey: .padding) ?? .valid,
                bias: try c.decodeIfPresent(Bool.self, forKey: .bias) ?? false))
        case "relu":
            kind = .relu
        case "maxpool2d":
            let pool = try c.decodeIfPresent([Int].self, forKey: .pool) ?? [2, 2]
            kind = .maxPool2d(MaxPool2DSpec(pool: pool, stride: try c.decodeIfPresent([Int].self, forKey: .stride),
                                            padding: try c.decodeIfPresent(Padding.self, forKey: .padding) ?? .valid))
        case "flatten":
            kind = .flatten
        case "dense":
            kind = .dense(DenseSpec(units: try c.decode(Int.self, forKey: .units),
                                    bias: try c.decodeIfPresent(Bool.self, forKey: .bias) ?? true))
        case "softmax":
            kind = .softmax
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription:
                "unknown layer type '\(type)' (expected conv2d, relu, maxpool2d, flatten, dense or softmax)")
        }
        self.init(name: name, kind: kind)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind.typeName, forKey: .type)
        try c.encode(name, forKey: .name)
        switch kind {
        case let .conv2d(spec):
            try c.encode(spec.filters, forKey: .filters)
            try c.encode(spec.kernel, forKey: .kernel)
            try c.encode(spec.stride, forKey: .stride)
            try c.encode(spec.padding, forKey: .padding)
            try c.encode(spec.bias, forKey: .bias)
        case let .maxPool2d(spec):
            try c.encode(spec.pool, forKey: .pool)
            try c.encode(spec.stride, forKey: .stride)
            try c.encode(spec.padding, forKey: .padding)
        case let .dense(spec):
            try c.encode(spec.units, forKey: .units)
            try c.encode(spec.bias, forKey: .bias)
        case .relu, .flatten, .softmax:
            break
        }
    }
}

extension Architecture: Codable {
    /// The architecture JSON version this library writes and reads.
    public static let jsonVersion = 1

    private enum CodingKeys: String, CodingKey { case version, input, preprocessing, layers }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let version = try c.decodeIfPresent(Int.self, forKey: .version) ?? Architecture.jsonVersion
        guard version == Architecture.jsonVersion else {
            throw DecodingError.dataCorruptedError(forKey: .version, in: c, debugDescription:
                "architecture version \(version) is not supported (this build reads version \(Architecture.jsonVersion))")
        }
        let layers = try c.decode([Layer].self, forKey: .layers)
        self.init(
            input: try c.decode(ActivationShape.self, forKey: .input),
            preprocessing: try c.decodeIfPresent(Preprocessing.self, forKey: .preprocessing) ?? .seed,
            layers: Architecture.autoNamed(layers.map { ($0.name.isEmpty ? nil : $0.name, $0.kind) }))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Architecture.jsonVersion, forKey: .version)
        try c.encode(input, forKey: .input)
        try c.encode(preprocessing, forKey: .preprocessing)
        try c.encode(layers, forKey: .layers)
    }

    /// The architecture as compact JSON with sorted keys (deterministic bytes).
    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain values cannot fail.
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Decodes and validates an architecture from JSON.
    ///
    /// - Parameters:
    ///   - json: the architecture's JSON bytes.
    ///   - strict: also check every rule of `Schemas/architecture.schema.json` first (``checkSchema(json:)``):
    ///     unknown keys, empty names, values of the wrong kind. The command line reads people's files so; readers
    ///     of model files decide for themselves.
    /// - Throws: ``ConvNetError/invalidArchitecture(layer:reason:)`` for malformed JSON, a schema rule broken
    ///   (with `strict`) or a layer that does not fit.
    public static func decode(json: some DataProtocol, strict: Bool) throws -> Architecture {
        if strict { try checkSchema(json: json) }
        return try decode(json: json)
    }

    /// Decodes and validates an architecture from JSON, leniently: keys the schema does not know are ignored,
    /// an empty name is taken as no name (``decode(json:strict:)`` refuses both).
    ///
    /// - Throws: ``ConvNetError/invalidArchitecture(layer:reason:)`` for malformed JSON or a layer that does not fit.
    public static func decode(json: some DataProtocol) throws -> Architecture {
        let architecture: Architecture
        do {
            architecture = try JSONDecoder().decode(Architecture.self, from: Data(json))
        } catch let error as DecodingError {
            throw ConvNetError.invalidArchitecture(layer: nil, reason: error.summary { "malformed JSON\($0): \($1)" })
        } catch {
            throw ConvNetError.invalidArchitecture(layer: nil, reason: "\(error)")
        }
        try architecture.validate()
        return architecture
    }
}

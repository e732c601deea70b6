/// Why a set of named tensors does not fit an architecture: the first problem found, in the order
/// duplicate, missing, mis-shaped (both checked per parameter, in the architecture's order), unknown.
public enum ParameterMismatch: Error, Sendable, Equatable {
    /// The tensor appears twice in the given set.
    case duplicate(name: String)
    /// The architecture needs the tensor; the set lacks it.
    case missing(name: String, expected: [Int])
    /// The tensor's shape (or its value count) is not the one the architecture implies.
    case shape(name: String, expected: [Int], found: [Int], values: Int?)
    /// The tensor is not a parameter of the architecture (the first such name in sorted order).
    case unknown(name: String)

    /// The tensor the problem is about.
    public var name: String {
        switch self {
        case let .duplicate(name), let .missing(name, _), let .shape(name, _, _, _), let .unknown(name): name
        }
    }

    /// The same problem as a ``ConvNetError``, as ``Network/init(architecture:parameters:)`` reports it.
    public var convNetError: ConvNetError {
        switch self {
        case let .duplicate(name): .invalidArchitecture(layer: nil, reason: "tensor \(name) is given twice")
        case let .missing(name, _): .missingParameter(name: name)
        case let .shape(name, expected, found, _): .shapeMismatch(name: name, expected: expected, found: found)
        case let .unknown(name): .unknownParameter(name: name)
        }
    }
}

extension Architecture {
    /// The one check that a set of parameters is exactly what the architecture needs: every parameter once,
    /// with its exchange shape, and nothing else. Reads no values, so it serves tensors still in a file.
    ///
    /// - Parameters:
    ///   - tensors: names, shapes and (when known) value counts, in any order.
    ///   - suffix: appended to each parameter name (optimizer slots are `<parameter><suffix>`).
    /// - Returns: the specs, in the architecture's order.
    /// - Throws: ``ParameterMismatch`` naming the first offending tensor, or the architecture's own
    ///   ``ConvNetError`` when it is invalid.
    public func checkParameters(_ tensors: [(name: String, shape: [Int], values: Int?)], suffix: String = "") throws -> [ParameterSpec] {
        let specs = try parameterSpecs()
        try Self.match(specs: specs, tensors, suffix: suffix)
        return specs
    }

    /// ``checkParameters(_:suffix:)`` against specs already computed.
    ///
    /// - Throws: ``ParameterMismatch``.
    public static func match(specs: [ParameterSpec], _ tensors: [(name: String, shape: [Int], values: Int?)],
                             suffix: String = "") throws(ParameterMismatch) {
        var byName: [String: (shape: [Int], values: Int?)] = [:]
        for t in tensors {
            guard byName.updateValue((t.shape, t.values), forKey: t.name) == nil else { throw .duplicate(name: t.name) }
        }
        for spec in specs {
            let name = spec.name + suffix
            guard let found = byName.removeValue(forKey: name) else { throw .missing(name: name, expected: spec.shape) }
            guard found.shape == spec.shape, found.values.map({ $0 == Tensor.elementCount(spec.shape) }) ?? true else {
                throw .shape(name: name, expected: spec.shape, found: found.shape, values: found.values)
            }
        }
        if let extra = byName.keys.sorted().first { throw .unknown(name: extra) }
    }
}

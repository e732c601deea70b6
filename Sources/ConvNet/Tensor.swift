/// A dense float32 tensor: one contiguous buffer of scalars in row-major order and its shape.
///
/// Equality is bitwise: two tensors are equal when their shapes match and every scalar has the same bit
/// pattern, so NaN payloads, `-0` and `+0` are told apart. This is the equality file round trips need.
public struct Tensor: Sendable, Hashable, CustomStringConvertible {
    /// The extent of each axis, outermost first. A scalar has the empty shape.
    public var shape: [Int]
    /// The scalars in row-major order; `scalars.count == shape.reduce(1, *)`.
    public var scalars: [Float]

    /// Creates a tensor from a shape and its scalars.
    ///
    /// - Precondition: the scalar count equals the product of the shape (checked by callers that take outside
    ///   input; use `init(validating:scalars:)` there).
    public init(shape: [Int], scalars: [Float]) {
        self.shape = shape
        self.scalars = scalars
    }

    /// Creates a tensor of zeros.
    public init(zeros shape: [Int]) {
        self.shape = shape
        self.scalars = [Float](repeating: 0, count: Tensor.elementCount(shape) ?? 0)
    }

    /// Creates a tensor after checking that the shape is valid and matches the scalar count.
    ///
    /// - Throws: ``ConvNetError/shapeMismatch(name:expected:found:)`` when they disagree.
    public init(validating shape: [Int], scalars: [Float], name: String = "tensor") throws {
        guard let count = Tensor.elementCount(shape), count == scalars.count else {
            throw ConvNetError.shapeMismatch(name: name, expected: shape, found: [scalars.count])
        }
        self.init(shape: shape, scalars: scalars)
    }

    /// The number of scalars a shape holds, or nil when an extent is negative or the product overflows `Int`.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for extent in shape {
            guard extent >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            if overflow { return nil }
            count = product
        }
        return count
    }

    /// The number of scalars.
    public var count: Int { scalars.count }

    public var description: String { "Tensor(shape: \(shape), count: \(scalars.count))" }

    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        guard lhs.shape == rhs.shape, lhs.scalars.count == rhs.scalars.count else { return false }
        return lhs.scalars.withUnsafeBytes { a in rhs.scalars.withUnsafeBytes { b in a.elementsEqual(b) } }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(shape)
        scalars.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// A tensor with its name in the exchange set, such as `conv2d.kernel` or `dense.bias`.
public struct NamedTensor: Sendable, Hashable {
    /// The tensor's name (`conv2d.kernel`).
    public var name: String
    /// Its values.
    public var tensor: Tensor

    /// A named tensor.
    public init(name: String, tensor: Tensor) {
        self.name = name
        self.tensor = tensor
    }
}

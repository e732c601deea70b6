/// Read-only float32 values of a tensor that either own their storage (a ``Tensor``'s array) or borrow memory
/// that an owner object keeps valid, such as a read-only mapping of a model file: inference can run on
/// weights that were never copied.
///
/// A borrowed view holds a strong reference to its owner, so the memory stays valid for as long as any view
/// (or copy of one) lives. The values are never written through a view.
public struct TensorView: @unchecked Sendable {
    /// The extent of each axis, outermost first.
    public let shape: [Int]
    private let storage: Storage

    private enum Storage {
        case owned([Float])
        case borrowed(UnsafeBufferPointer<Float>, owner: AnyObject)
    }

    /// A view of a tensor's own values (no copy: the array is shared until someone writes to it).
    public init(_ tensor: Tensor) {
        shape = tensor.shape
        storage = .owned(tensor.scalars)
    }

    /// A view of memory that `owner` keeps valid and unchanged for as long as it lives.
    ///
    /// - Precondition: `values.count` is the product of `shape`.
    public init(shape: [Int], borrowing values: UnsafeBufferPointer<Float>, owner: AnyObject) {
        self.shape = shape
        storage = .borrowed(values, owner: owner)
    }

    /// The number of values.
    public var count: Int {
        switch storage {
        case let .owned(scalars): scalars.count
        case let .borrowed(values, _): values.count
        }
    }

    /// True when the values are borrowed from an owner (a mapped file) rather than held by the view.
    public var isBorrowed: Bool {
        if case .borrowed = storage { return true }
        return false
    }

    /// Calls `body` with the values; the pointer is valid only inside `body`.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        switch storage {
        case let .owned(scalars):
            return try scalars.withUnsafeBufferPointer(body)
        case let .borrowed(values, owner):
            return try withExtendedLifetime(owner) { try body(values) }
        }
    }

    /// The values as an owned ``Tensor`` (a copy for a borrowed view).
    public func tensor() -> Tensor {
        switch storage {
        case let .owned(scalars): Tensor(shape: shape, scalars: scalars)
        case let .borrowed(values, _): withUnsafeBufferPointer { Tensor(shape: shape, scalars: Array($0)) }
        }
    }
}

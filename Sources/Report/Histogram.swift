/// Counts of values in equal-width bins over their finite range.
public struct Histogram: Sendable, Hashable, Encodable {
    /// The lower edge of the first bin.
    public var low: Double
    /// The upper edge of the last bin.
    public var high: Double
    /// Values per bin.
    public var counts: [Int]
    /// Values that are NaN or infinite (not binned).
    public var nonFinite: Int

    /// Bins `values` into `bins` equal bins from their smallest to their largest finite value.
    public init<C: Collection>(_ values: C, bins: Int = 40) where C.Element == Float {
        var low = Float.infinity, high = -Float.infinity, bad = 0
        for v in values {
            if v.isFinite { low = min(low, v); high = max(high, v) } else { bad += 1 }
        }
        self.init(values.lazy.map(Double.init), low: low.isFinite ? Double(low) : 0, high: high.isFinite ? Double(high) : 0, bins: bins)
        nonFinite = bad
    }

    /// Bins `values` into `bins` equal bins over `low...high` (values outside go to the end bins).
    public init<S: Sequence>(_ values: S, low: Double, high: Double, bins: Int) where S.Element == Double {
        self.low = low
        self.high = high
        var counts = [Int](repeating: 0, count: max(1, bins))
        var bad = 0
        let width = (high - low) / Double(counts.count)
        for v in values {
            guard v.isFinite else { bad += 1; continue }
            let i = width > 0 ? Int(((v - low) / width).rounded(.down)) : counts.count / 2
            counts[min(counts.count - 1, max(0, i))] += 1
        }
        self.counts = counts
        nonFinite = bad
    }

    /// The number of values binned.
    public var total: Int { counts.reduce(0, +) }

    /// The lower edge of bin `i`.
    public func edge(_ i: Int) -> Double { low + (high - low) * Double(i) / Double(counts.count) }
}

/// A shared colour scale from a value range to colours whose luminance rises with the value (a viridis-like
/// ramp from dark purple to yellow), so the brightest pixel of a picture is its largest value.
public struct ColorScale: Sendable, Hashable {
    /// The value drawn darkest.
    public var low: Float
    /// The value drawn brightest.
    public var high: Float

    /// Viridis at eight stops; luminance increases strictly from stop to stop.
    static let stops: [(Double, Double, Double)] = [
        (68, 1, 84), (70, 50, 127), (54, 92, 141), (39, 127, 142), (31, 161, 135), (74, 194, 109), (159, 218, 58), (253, 231, 37),
    ]

    /// A scale from `low` (darkest) to `high` (brightest).
    public init(low: Float, high: Float) {
        self.low = low
        self.high = high
    }

    /// A scale covering every finite value of `values` (0 to 1 when there is none).
    public init<S: Sequence>(covering values: S) where S.Element == Float {
        var low = Float.infinity, high = -Float.infinity
        for v in values where v.isFinite {
            low = min(low, v)
            high = max(high, v)
        }
        self.init(low: low.isFinite ? low : 0, high: high.isFinite ? high : 1)
    }

    /// Where `value` sits on the scale, 0 to 1 (clamped; NaN is 0).
    public func position(_ value: Float) -> Double {
        guard high > low else { return 0.5 }
        let t = Double((value - low) / (high - low))
        return t.isNaN ? 0 : min(1, max(0, t))
    }

    /// The colour of `value`.
    public func colour(_ value: Float) -> RGB {
        Self.colour(at: position(value))
    }

    /// The colour at position `t` (0 to 1) of the ramp.
    public static func colour(at t: Double) -> RGB {
        let x = min(1, max(0, t)) * Double(stops.count - 1)
        let i = min(Int(x), stops.count - 2)
        let f = x - Double(i)
        let a = stops[i], b = stops[i + 1]
        func mix(_ p: Double, _ q: Double) -> UInt8 { UInt8((p + (q - p) * f).rounded()) }
        return RGB(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }

    /// A horizontal bar of the ramp, `width` x `height` pixels, low on the left.
    public static func bar(width: Int, height: Int) -> RGBImage {
        var image = RGBImage(width: width, height: height)
        for x in 0..<width {
            let c = colour(at: width > 1 ? Double(x) / Double(width - 1) : 0.5)
            image.fillRect(x: x, y: 0, width: 1, height: height, c)
        }
        return image
    }
}

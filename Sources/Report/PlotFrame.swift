import Foundation

/// The mapping from data coordinates to pixels of a chart: a plot area of `plotWidth` x `plotHeight` pixels at
/// (`left`, `top`) showing `xMin...xMax` left to right and `yMin...yMax` bottom to top. The SVG charts and the
/// PNG curve picture both draw through it, and the browser test inverts it.
public struct PlotFrame: Sendable, Hashable {
    /// The data range shown across.
    public var xMin: Double, xMax: Double, yMin: Double, yMax: Double
    /// The plot area: its top-left pixel and its size.
    public var left: Double, top: Double, plotWidth: Double, plotHeight: Double

    /// A frame over the given ranges; an empty range is widened so that every mapping is defined.
    public init(x: ClosedRange<Double>, y: ClosedRange<Double>, width: Double, height: Double,
                left: Double = 56, right: Double = 16, top: Double = 16, bottom: Double = 40) {
        func widened(_ r: ClosedRange<Double>) -> (Double, Double) {
            guard r.lowerBound.isFinite, r.upperBound.isFinite else { return (0, 1) }
            if r.upperBound > r.lowerBound { return (r.lowerBound, r.upperBound) }
            let pad = max(abs(r.lowerBound) * 0.05, 0.5)
            return (r.lowerBound - pad, r.upperBound + pad)
        }
        (xMin, xMax) = widened(x)
        (yMin, yMax) = widened(y)
        self.left = left
        self.top = top
        plotWidth = max(1, width - left - right)
        plotHeight = max(1, height - top - bottom)
    }

    /// Total width.
    public var width: Double { left + plotWidth + 16 }
    /// Total height.
    public var height: Double { top + plotHeight + 40 }

    /// The pixel column of `x`.
    public func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * plotWidth }

    /// The pixel row of `y`.
    public func py(_ y: Double) -> Double { top + (yMax - y) / (yMax - yMin) * plotHeight }

    /// The value at pixel row `row` (the inverse of ``py(_:)``).
    public func value(atRow row: Double) -> Double { yMax - (row - top) / plotHeight * (yMax - yMin) }

    /// About `count` round tick values within `low...high`.
    public static func ticks(_ low: Double, _ high: Double, count: Int = 5) -> [Double] {
        guard high > low, low.isFinite, high.isFinite else { return [low] }
        let raw = (high - low) / Double(max(1, count))
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        // k / 5 rather than k * 0.2, so that ticks print as the round numbers they are (0.6, not 0.6000000000000001).
        let inverse = (1 / step).rounded()
        let exactInverse = step < 1 && abs(1 / step - inverse) < 1e-6 * inverse
        var ticks: [Double] = []
        var k = ceil(low / step)
        while k * step <= high + step * 1e-9 {
            ticks.append(k == 0 ? 0 : exactInverse ? k / inverse : k * step)
            k += 1
        }
        return ticks
    }
}

/// A short label of a number: 4 significant digits, exponent form when very small or large.
public func shortNumber(_ x: Double) -> String {
    if x == 0 { return "0" }
    if !x.isFinite { return x.isNaN ? "NaN" : (x > 0 ? "inf" : "-inf") }
    let a = abs(x)
    if x == x.rounded() && a < 1e9 { return String(Int(x)) }
    if a >= 1e5 || a < 1e-3 { return String(format: "%.2e", x) }
    return String(format: "%.4g", x)
}

import Foundation

/// Inline SVG charts for the HTML report: lines, bars, scatter, with labelled axes. Each chart's `<svg>` carries
/// its ``PlotFrame`` as `data-*` attributes so that a test can map a drawn point back to its value.
public enum SVGChart {
    /// One line: a name, a colour, points in data coordinates.
    public struct Series: Sendable {
        /// The legend's text.
        public var name: String
        /// A CSS colour.
        public var colour: String
        /// Points in data coordinates, drawn in order.
        public var points: [(x: Double, y: Double)]

        /// A series.
        public init(name: String, colour: String, points: [(x: Double, y: Double)]) {
            self.name = name
            self.colour = colour
            self.points = points
        }
    }

    /// Series drawn as polylines (each point also a small circle when there are few).
    public static func lines(_ series: [Series], title: String, xLabel: String, yLabel: String, id: String,
                             width: Double = 500, height: Double = 280, yRange: ClosedRange<Double>? = nil) -> String {
        let xs = series.flatMap { $0.points.map(\.x) }, ys = series.flatMap { $0.points.map(\.y) }.filter(\.isFinite)
        // 5% of room above and below the values, so that no point sits on the frame.
        let low = ys.min() ?? 0, high = ys.max() ?? 1, pad = (high - low) * 0.05
        let frame = PlotFrame(x: (xs.min() ?? 0)...(xs.max() ?? 1), y: yRange ?? ((low - pad)...(high + pad)), width: width, height: height)
        var body = axes(frame, xLabel: xLabel, yLabel: yLabel)
        for (i, s) in series.enumerated() {
            let points = s.points.filter { $0.y.isFinite }.map { "\(fmt(frame.px($0.x))),\(fmt(frame.py($0.y)))" }.joined(separator: " ")
            body += "<polyline class=\"series\" data-name=\"\(escape(s.name))\" fill=\"none\" stroke=\"\(s.colour)\" stroke-width=\"1.8\" points=\"\(points)\"/>"
            if s.points.count <= 30 {
                for p in s.points where p.y.isFinite {
                    body += "<circle cx=\"\(fmt(frame.px(p.x)))\" cy=\"\(fmt(frame.py(p.y)))\" r=\"2.5\" fill=\"\(s.colour)\"/>"
                }
            }
            body += "<rect x=\"\(fmt(frame.left + 8))\" y=\"\(fmt(frame.top + 6 + Double(i) * 16))\" width=\"10\" height=\"10\" fill=\"\(s.colour)\"/>"
            body += "<text x=\"\(fmt(frame.left + 22))\" y=\"\(fmt(frame.top + 15 + Double(i) * 16))\" font-size=\"11\">\(escape(s.name))</text>"
        }
        return svg(frame, id: id, title: title, body: body)
    }

    /// A histogram as bars.
    public static func bars(_ histogram: Histogram, title: String, xLabel: String, id: String, colour: String = "#3b6ea8",
                            width: Double = 360, height: Double = 200) -> String {
        let top = Double(histogram.counts.max() ?? 1)
        let frame = PlotFrame(x: histogram.low...histogram.high, y: 0...max(top, 1), width: width, height: height, left: 48)
        var body = axes(frame, xLabel: xLabel, yLabel: "count")
        for (i, c) in histogram.counts.enumerated() where c > 0 {
            let x0 = frame.px(histogram.edge(i)), x1 = frame.px(histogram.edge(i + 1))
            let y = frame.py(Double(c))
            body += "<rect x=\"\(fmt(x0))\" y=\"\(fmt(y))\" width=\"\(fmt(max(0.5, x1 - x0 - 0.5)))\" height=\"\(fmt(frame.py(0) - y))\" fill=\"\(colour)\"><title>\(shortNumber(histogram.edge(i)))..\(shortNumber(histogram.edge(i + 1))): \(c)</title></rect>"
        }
        return svg(frame, id: id, title: title, body: body)
    }

    /// Points on log-log axes (values at or below 0 are drawn at `floor`).
    public static func logScatter(_ points: [(x: Double, y: Double)], title: String, xLabel: String, yLabel: String, id: String,
                                  floor: Double = 1e-12, width: Double = 420, height: Double = 300) -> String {
        let logs = points.map { (log10(max($0.x, floor)), log10(max($0.y, floor))) }
        let frame = PlotFrame(x: (logs.map(\.0).min() ?? -1)...(logs.map(\.0).max() ?? 0),
                              y: (logs.map(\.1).min() ?? -1)...(logs.map(\.1).max() ?? 0), width: width, height: height)
        var body = axes(frame, xLabel: "log10 " + xLabel, yLabel: "log10 " + yLabel)
        for (x, y) in logs {
            body += "<circle cx=\"\(fmt(frame.px(x)))\" cy=\"\(fmt(frame.py(y)))\" r=\"1.6\" fill=\"#c0392b\" fill-opacity=\"0.5\"/>"
        }
        return svg(frame, id: id, title: title, body: body)
    }

    static func axes(_ frame: PlotFrame, xLabel: String, yLabel: String) -> String {
        var s = "<rect x=\"\(fmt(frame.left))\" y=\"\(fmt(frame.top))\" width=\"\(fmt(frame.plotWidth))\" height=\"\(fmt(frame.plotHeight))\" fill=\"#fafafa\" stroke=\"#999\"/>"
        for t in PlotFrame.ticks(frame.xMin, frame.xMax) {
            let x = fmt(frame.px(t))
            s += "<line x1=\"\(x)\" x2=\"\(x)\" y1=\"\(fmt(frame.top + frame.plotHeight))\" y2=\"\(fmt(frame.top + frame.plotHeight + 4))\" stroke=\"#555\"/>"
            s += "<text x=\"\(x)\" y=\"\(fmt(frame.top + frame.plotHeight + 16))\" font-size=\"10\" text-anchor=\"middle\">\(shortNumber(t))</text>"
        }
        for t in PlotFrame.ticks(frame.yMin, frame.yMax) {
            let y = fmt(frame.py(t))
            s += "<line x1=\"\(fmt(frame.left - 4))\" x2=\"\(fmt(frame.left + frame.plotWidth))\" y1=\"\(y)\" y2=\"\(y)\" stroke=\"#e3e3e3\"/>"
            s += "<text x=\"\(fmt(frame.left - 6))\" y=\"\(y)\" dy=\"3\" font-size=\"10\" text-anchor=\"end\">\(shortNumber(t))</text>"
        }
        s += "<text x=\"\(fmt(frame.left + frame.plotWidth / 2))\" y=\"\(fmt(frame.top + frame.plotHeight + 32))\" font-size=\"11\" text-anchor=\"middle\">\(escape(xLabel))</text>"
        s += "<text transform=\"translate(12 \(fmt(frame.top + frame.plotHeight / 2))) rotate(-90)\" font-size=\"11\" text-anchor=\"middle\">\(escape(yLabel))</text>"
        return s
    }

    static func svg(_ frame: PlotFrame, id: String, title: String, body: String) -> String {
        "<svg id=\"\(escape(id))\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(fmt(frame.width))\" height=\"\(fmt(frame.height))\" "
            + "data-x-min=\"\(frame.xMin)\" data-x-max=\"\(frame.xMax)\" data-y-min=\"\(frame.yMin)\" data-y-max=\"\(frame.yMax)\" "
            + "data-left=\"\(frame.left)\" data-top=\"\(frame.top)\" data-plot-width=\"\(frame.plotWidth)\" data-plot-height=\"\(frame.plotHeight)\">"
            + "<title>\(escape(title))</title>" + body + "</svg>"
    }

    static func fmt(_ x: Double) -> String { String(format: "%.2f", x) }
}

/// Text made safe for HTML and SVG.
public func escape(_ text: String) -> String {
    var s = ""
    for ch in text {
        switch ch {
        case "&": s += "&amp;"
        case "<": s += "&lt;"
        case ">": s += "&gt;"
        case "\"": s += "&quot;"
        default: s.append(ch)
        }
    }
    return s
}

import ConvNet
import Testing
@testable import Report

@Suite("Layout math")
struct LayoutTests {
    @Test("every pixel of a tile maps back to that tile and cell; gaps map to nothing")
    func gridInverse() {
        let layout = GridLayout(count: 7, columns: 3, tileWidth: 4, tileHeight: 2, cell: 3, gap: 2)
        #expect(layout.rows == 3)
        #expect(layout.width == 3 * (4 * 3 + 2) + 2)
        #expect(layout.height == 3 * (2 * 3 + 2) + 2)
        var covered = 0
        for index in 0..<7 {
            let o = layout.origin(of: index)
            for row in 0..<2 {
                for column in 0..<4 {
                    for dy in 0..<3 {
                        for dx in 0..<3 {
                            let hit = layout.tile(atX: o.x + column * 3 + dx, y: o.y + row * 3 + dy)
                            #expect(hit?.index == index && hit?.column == column && hit?.row == row)
                            covered += 1
                        }
                    }
                }
            }
        }
        var mapped = 0
        for y in 0..<layout.height {
            for x in 0..<layout.width where layout.tile(atX: x, y: y) != nil { mapped += 1 }
        }
        #expect(mapped == covered)
        #expect(layout.tile(atX: 0, y: 0) == nil)
        #expect(GridLayout.cellSize(tileWidth: 3, tileHeight: 3, target: 48) == 16)
        #expect(GridLayout.cellSize(tileWidth: 200, tileHeight: 3, target: 48) == 1)
    }

    @Test("the colour scale's luminance rises with the value")
    func monotonicScale() {
        let scale = ColorScale(low: -2, high: 3)
        var last = -1.0
        for i in 0...100 {
            let l = scale.colour(-2 + 5 * Float(i) / 100).luminance
            #expect(l > last, "at step \(i)")
            last = l
        }
        #expect(scale.colour(-10) == scale.colour(-2))
        #expect(scale.colour(10) == ColorScale.colour(at: 1))
    }

    @Test("the brightest pixel of a filter grid shows the largest weight", arguments: [(3, 3, 1, 16), (5, 3, 3, 20), (2, 2, 4, 1)])
    func filterGrid(kh: Int, kw: Int, cin: Int, cout: Int) throws {
        let count = kh * kw * cin * cout
        var scalars = (0..<count).map { Float(($0 * 7919) % 101) / 100 - 0.5 }
        let top = (count * 5) / 7
        scalars[top] = 2
        let grid = FilterGrid(layer: "c", kernel: Tensor(shape: [kh, kw, cin, cout], scalars: scalars))
        var best = (x: 0, y: 0, l: -1.0)
        for y in 0..<grid.image.height {
            for x in 0..<grid.image.width where grid.image[x, y].luminance > best.l { best = (x, y, grid.image[x, y].luminance) }
        }
        let w = try #require(grid.weight(atX: best.x, y: best.y))
        #expect(((w.row * kw + w.column) * cin + w.channel) * cout + w.filter == top)
        // Every (filter, channel) tile is where tileIndex says.
        for f in 0..<cout {
            for c in 0..<cin {
                let o = grid.layout.origin(of: grid.tileIndex(filter: f, channel: c))
                let back = try #require(grid.weight(atX: o.x, y: o.y))
                #expect(back.filter == f && back.channel == c && back.row == 0 && back.column == 0)
            }
        }
    }

    @Test("a chart frame maps values to pixels and back; ticks are round and inside the range")
    func plotFrame() {
        let frame = PlotFrame(x: 1...60000, y: 0.2...2.4, width: 560, height: 300)
        for y in [0.2, 0.5, 1.7, 2.4] {
            #expect(abs(frame.value(atRow: frame.py(y)) - y) < 1e-9)
        }
        #expect(frame.px(1) == frame.left && frame.px(60000) == frame.left + frame.plotWidth)
        #expect(frame.py(2.4) == frame.top)
        #expect(PlotFrame.ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1])
        #expect(PlotFrame.ticks(0.13, 2.41).allSatisfy { $0 >= 0.13 && $0 <= 2.41 })
        let flat = PlotFrame(x: 3...3, y: 1...1, width: 100, height: 100)
        #expect(flat.px(3).isFinite && flat.py(1).isFinite)
    }

    @Test("axis labels are short: integers as integers, round ticks as typed, extremes in exponent form")
    func labels() {
        #expect(shortNumber(20000) == "20000")
        #expect(shortNumber(0.6) == "0.6")
        #expect(shortNumber(0.4563) == "0.4563")
        #expect(shortNumber(-0.7224) == "-0.7224")
        #expect(shortNumber(1e-5) == "1.00e-05")
        #expect(shortNumber(123456.5) == "1.23e+05")
        #expect(PlotFrame.ticks(0, 60000).map(shortNumber) == ["0", "20000", "40000", "60000"])
    }

    @Test("a histogram counts every finite value once and the non-finite apart")
    func histogram() {
        let values: [Float] = [0, 0.1, 0.5, 0.99, 1, .nan, .infinity, -0.5]
        let h = Histogram(values, bins: 3)
        #expect(h.low == -0.5 && h.high == 1)
        #expect(h.total == 6 && h.nonFinite == 2)
        #expect(h.counts == [1, 2, 3])
    }
}

import ConvNet

/// The single pictures of `cnnkit show`, as ``RGBImage``s ready for ``PNGEncoder``.
public enum Pictures {
    /// Which picture.
    public enum Kind: String, CaseIterable, Sendable {
        case filters, features, curves
    }

    static let background = RGB(0, 0, 0)
    static let ink = RGB(230, 230, 230)

    /// The picture of `kind` from a collected report.
    ///
    /// - Throws: ``ReportError/nothingToShow(file:what:)`` when the model has nothing of that kind.
    public static func picture(_ kind: Kind, of content: ReportContent) throws(ReportError) -> RGBImage {
        let file = content.file.path
        switch kind {
        case .filters:
            guard !content.filters.isEmpty else { throw .nothingToShow(file: file, what: "the model has no convolution, so no filters to show") }
            return stacked(content.filters.map { labelled($0.image, scale: $0.scale) })
        case .features:
            guard !content.featureMaps.isEmpty else {
                throw .nothingToShow(file: file, what: "the model has no convolution or pooling layer, so no feature maps to show")
            }
            let inputs = inputStrip(content.inputs.map(\.pixels), shape: content.architecture.input).image
            return stacked([inputs] + content.featureMaps.map { labelled($0.image, scale: $0.scale) })
        case .curves:
            guard let state = content.trainingState, !state.curve.isEmpty || !state.history.isEmpty else {
                throw .nothingToShow(file: file, what: "the file stores no training history, so no curves to show")
            }
            let points = state.curve.isEmpty
                ? state.history.enumerated().map { (Double($0.offset + 1), $0.element.loss, $0.element.trainAccuracy) }
                : state.curve.map { (Double($0.step), $0.loss, $0.accuracy) }
            return curves(points)
        }
    }

    /// A picture with its colour bar and the bar's end values below it.
    static func labelled(_ image: RGBImage, scale: ColorScale) -> RGBImage {
        let low = shortNumber(Double(scale.low)), high = shortNumber(Double(scale.high))
        let barWidth = 128, textScale = 2
        let width = max(image.width, PixelFont.width(low, scale: textScale) + barWidth + PixelFont.width(high, scale: textScale) + 16)
        var out = RGBImage(width: width, height: image.height + 22, fill: background)
        out.blit(image, x: 0, y: 0)
        var x = 2
        PixelFont.draw(low, into: &out, x: x, y: image.height + 6, scale: textScale, colour: ink)
        x += PixelFont.width(low, scale: textScale) + 4
        out.blit(ColorScale.bar(width: barWidth, height: 10), x: x, y: image.height + 6)
        PixelFont.draw(high, into: &out, x: x + barWidth + 4, y: image.height + 6, scale: textScale, colour: ink)
        return out
    }

    /// Pictures one below the other, left-aligned, 8 pixels apart.
    static func stacked(_ images: [RGBImage]) -> RGBImage {
        let width = images.map(\.width).max() ?? 1
        let height = images.reduce(0) { $0 + $1.height } + 8 * max(0, images.count - 1)
        var out = RGBImage(width: width, height: max(1, height), fill: background)
        var y = 0
        for image in images {
            out.blit(image, x: 0, y: y)
            y += image.height + 8
        }
        return out
    }

    /// Loss (red, left axis) and accuracy (blue, right axis, 0 to 1) against step, on a white ground.
    static func curves(_ points: [(x: Double, loss: Double, accuracy: Double)]) -> RGBImage {
        let width = 640, height = 360
        let losses = points.map(\.loss).filter(\.isFinite)
        let frame = PlotFrame(x: (points.first?.x ?? 0)...(points.last?.x ?? 1), y: 0...max(losses.max() ?? 1, 1e-6) * 1.05,
                              width: Double(width), height: Double(height), left: 60, right: 50, top: 16, bottom: 40)
        let accuracy = PlotFrame(x: frame.xMin...frame.xMax, y: 0...1, width: Double(width), height: Double(height), left: 60, right: 50, top: 16, bottom: 40)
        var image = RGBImage(width: width, height: height, fill: RGB(255, 255, 255))
        let grey = RGB(120, 120, 120), red = RGB(192, 57, 43), blue = RGB(46, 134, 193)
        let (l, t, w, h) = (Int(frame.left), Int(frame.top), Int(frame.plotWidth), Int(frame.plotHeight))
        image.drawLine(l, t, l, t + h, grey)
        image.drawLine(l, t + h, l + w, t + h, grey)
        image.drawLine(l + w, t, l + w, t + h, grey)
        for tick in PlotFrame.ticks(frame.yMin, frame.yMax) {
            let y = Int(frame.py(tick).rounded())
            image.drawLine(l - 4, y, l, y, grey)
            let label = shortNumber(tick)
            PixelFont.draw(label, into: &image, x: l - 6 - PixelFont.width(label, scale: 2), y: y - 5, scale: 2, colour: red)
        }
        for tick in PlotFrame.ticks(0, 1) {
            let y = Int(accuracy.py(tick).rounded())
            image.drawLine(l + w, y, l + w + 4, y, grey)
            PixelFont.draw(shortNumber(tick), into: &image, x: l + w + 7, y: y - 5, scale: 2, colour: blue)
        }
        for tick in PlotFrame.ticks(frame.xMin, frame.xMax) {
            let x = Int(frame.px(tick).rounded())
            image.drawLine(x, t + h, x, t + h + 4, grey)
            let label = shortNumber(tick)
            PixelFont.draw(label, into: &image, x: x - PixelFont.width(label, scale: 2) / 2, y: t + h + 8, scale: 2, colour: grey)
        }
        func plot(_ f: PlotFrame, _ value: (Double, Double, Double) -> Double, _ colour: RGB) {
            var last: (Int, Int)?
            for p in points {
                let v = value(p.x, p.loss, p.accuracy)
                guard v.isFinite else { last = nil; continue }
                let q = (Int(f.px(p.x).rounded()), Int(f.py(v).rounded()))
                if let last { image.drawLine(last.0, last.1, q.0, q.1, colour, thickness: 2) } else { image.fillRect(x: q.0 - 1, y: q.1 - 1, width: 3, height: 3, colour) }
                last = q
            }
        }
        plot(accuracy, { _, _, accuracy in accuracy }, blue)
        plot(frame, { _, loss, _ in loss }, red)
        return image
    }
}

extension RGBImage {
    /// Copies `image` with its top-left at (x, y), clipped.
    public mutating func blit(_ image: RGBImage, x: Int, y: Int) {
        for yy in 0..<image.height where y + yy >= 0 && y + yy < height {
            for xx in 0..<image.width where x + xx >= 0 && x + xx < width {
                self[x + xx, y + yy] = image[xx, yy]
            }
        }
    }
}

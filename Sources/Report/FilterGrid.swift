import ConvNet

/// A conv layer's kernel `[kh, kw, in, out]` as one picture: a tile per (filter, input channel), `perRow`
/// filters to a band, one row of the band per input channel, every weight a `cell` x `cell` block coloured on
/// one scale shared by the whole layer.
public struct FilterGrid: Sendable {
    /// The layer's name.
    public var layer: String
    /// Kernel height and width, input channels, filters.
    public var kernelHeight: Int, kernelWidth: Int, inputChannels: Int, filters: Int
    /// Filters side by side in a band.
    public var perRow: Int
    /// The colour scale shared by every tile.
    public var scale: ColorScale
    /// Where each tile is.
    public var layout: GridLayout
    /// The picture.
    public var image: RGBImage

    /// The most filters side by side.
    public static let maxPerRow = 16

    /// Draws `kernel` (exchange layout `[kh, kw, in, out]`).
    ///
    /// - Parameters:
    ///   - layer: the conv layer's name.
    ///   - kernel: its kernel tensor.
    ///   - scale: the colour scale; nil covers the kernel's own values.
    ///   - targetTile: about how many pixels a tile's longer side gets.
    public init(layer: String, kernel: Tensor, scale: ColorScale? = nil, targetTile: Int = 48) {
        let s = kernel.shape.count == 4 ? kernel.shape : [1, max(1, kernel.scalars.count), 1, 1]
        self.layer = layer
        kernelHeight = s[0]
        kernelWidth = s[1]
        inputChannels = s[2]
        filters = s[3]
        perRow = min(filters, Self.maxPerRow)
        let bands = (filters + perRow - 1) / perRow
        let scale = scale ?? ColorScale(covering: kernel.scalars)
        self.scale = scale
        layout = GridLayout(count: bands * inputChannels * perRow, columns: perRow, tileWidth: kernelWidth, tileHeight: kernelHeight,
                            cell: GridLayout.cellSize(tileWidth: kernelWidth, tileHeight: kernelHeight, target: targetTile), gap: 2)
        image = RGBImage(width: layout.width, height: layout.height)
        for f in 0..<filters {
            for c in 0..<inputChannels {
                let origin = layout.origin(of: tileIndex(filter: f, channel: c))
                for ky in 0..<kernelHeight {
                    for kx in 0..<kernelWidth {
                        let v = kernel.scalars[((ky * kernelWidth + kx) * inputChannels + c) * filters + f]
                        image.fillRect(x: origin.x + kx * layout.cell, y: origin.y + ky * layout.cell,
                                       width: layout.cell, height: layout.cell, scale.colour(v))
                    }
                }
            }
        }
    }

    /// The tile showing `filter` on input `channel`.
    public func tileIndex(filter: Int, channel: Int) -> Int {
        ((filter / perRow) * inputChannels + channel) * perRow + filter % perRow
    }

    /// The weight that pixel (x, y) shows: filter, input channel, kernel row and column; nil for a gap.
    public func weight(atX x: Int, y: Int) -> (filter: Int, channel: Int, row: Int, column: Int)? {
        guard let t = layout.tile(atX: x, y: y) else { return nil }
        let band = t.index / (inputChannels * perRow), channel = (t.index / perRow) % inputChannels
        let filter = band * perRow + t.index % perRow
        guard filter < filters else { return nil }
        return (filter, channel, t.row, t.column)
    }
}

/// One layer's activations for a few inputs: a row per input, a tile per channel (the first ``maxChannels``),
/// on one colour scale shared by the layer.
public struct FeatureMapGrid: Sendable {
    /// The layer's name.
    public var layer: String
    /// Channels drawn (at most ``maxChannels``).
    public var channelsShown: Int
    /// Channels of the layer.
    public var channels: Int
    /// Inputs, one row each.
    public var inputs: Int
    /// The colour scale shared by every tile.
    public var scale: ColorScale
    /// Where each tile is.
    public var layout: GridLayout
    /// The picture.
    public var image: RGBImage

    /// The most channels drawn per layer.
    public static let maxChannels = 32

    /// Draws `maps`, one `[h, w, c]` activation (HWC, C fastest) per input.
    public init(layer: String, shape: ActivationShape, maps: [[Float]], targetTile: Int = 56) {
        self.layer = layer
        channels = shape.channels
        channelsShown = min(shape.channels, Self.maxChannels)
        inputs = maps.count
        let scale = ColorScale(covering: maps.joined())
        self.scale = scale
        layout = GridLayout(count: maps.count * channelsShown, columns: channelsShown, tileWidth: shape.width, tileHeight: shape.height,
                            cell: GridLayout.cellSize(tileWidth: shape.width, tileHeight: shape.height, target: targetTile), gap: 2)
        image = RGBImage(width: layout.width, height: layout.height)
        for (i, map) in maps.enumerated() {
            for c in 0..<channelsShown {
                let origin = layout.origin(of: i * channelsShown + c)
                for y in 0..<shape.height {
                    for x in 0..<shape.width {
                        image.fillRect(x: origin.x + x * layout.cell, y: origin.y + y * layout.cell, width: layout.cell, height: layout.cell,
                                       scale.colour(map[(y * shape.width + x) * shape.channels + c]))
                    }
                }
            }
        }
    }
}

/// Input images (raw pixels, any channel count: the first channel is drawn) as grey tiles in a row.
public func inputStrip(_ images: [[Float]], shape: ActivationShape, targetTile: Int = 56) -> (image: RGBImage, layout: GridLayout) {
    let layout = GridLayout(count: images.count, columns: images.count, tileWidth: shape.width, tileHeight: shape.height,
                            cell: GridLayout.cellSize(tileWidth: shape.width, tileHeight: shape.height, target: targetTile), gap: 2)
    var image = RGBImage(width: layout.width, height: layout.height)
    for (i, pixels) in images.enumerated() {
        let origin = layout.origin(of: i)
        for y in 0..<shape.height {
            for x in 0..<shape.width {
                let v = UInt8(max(0, min(255, pixels[(y * shape.width + x) * shape.channels].rounded())))
                image.fillRect(x: origin.x + x * layout.cell, y: origin.y + y * layout.cell, width: layout.cell, height: layout.cell, RGB(v, v, v))
            }
        }
    }
    return (image, layout)
}

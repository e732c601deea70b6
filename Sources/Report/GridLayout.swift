/// Where tiles of equal size go in a picture: `count` tiles of `tileWidth` x `tileHeight` cells, `columns` to a
/// row, each cell drawn as a `cell` x `cell` block of pixels, `gap` pixels between tiles and around the edge.
///
/// The filter grid and the feature maps are laid out with it, and the browser test inverts it (``tile(atX:y:)``)
/// to find which weight a pixel shows.
public struct GridLayout: Sendable, Hashable {
    /// Tiles in the picture.
    public var count: Int
    /// Tiles side by side in a row.
    public var columns: Int
    /// Cells across a tile.
    public var tileWidth: Int
    /// Cells down a tile.
    public var tileHeight: Int
    /// Pixels per cell side.
    public var cell: Int
    /// Pixels between tiles and around the edge.
    public var gap: Int

    /// A layout; `columns` is clamped to 1...count.
    public init(count: Int, columns: Int, tileWidth: Int, tileHeight: Int, cell: Int, gap: Int) {
        self.count = max(0, count)
        self.columns = max(1, min(columns, max(count, 1)))
        self.tileWidth = max(1, tileWidth)
        self.tileHeight = max(1, tileHeight)
        self.cell = max(1, cell)
        self.gap = max(0, gap)
    }

    /// Rows needed for every tile.
    public var rows: Int { (count + columns - 1) / columns }

    /// Picture width in pixels.
    public var width: Int { columns * (tileWidth * cell + gap) + gap }

    /// Picture height in pixels.
    public var height: Int { rows * (tileHeight * cell + gap) + gap }

    /// The top-left pixel of tile `index` (tiles go left to right, then top to bottom).
    public func origin(of index: Int) -> (x: Int, y: Int) {
        (gap + (index % columns) * (tileWidth * cell + gap), gap + (index / columns) * (tileHeight * cell + gap))
    }

    /// The tile and the cell in it that pixel (x, y) shows, or nil for a gap or a pixel past the last tile.
    public func tile(atX x: Int, y: Int) -> (index: Int, column: Int, row: Int)? {
        let strideX = tileWidth * cell + gap, strideY = tileHeight * cell + gap
        guard x >= gap, y >= gap else { return nil }
        let tx = (x - gap) / strideX, ty = (y - gap) / strideY
        let inX = (x - gap) % strideX, inY = (y - gap) % strideY
        guard tx < columns, inX < tileWidth * cell, inY < tileHeight * cell else { return nil }
        let index = ty * columns + tx
        guard index < count else { return nil }
        return (index, inX / cell, inY / cell)
    }

    /// A cell size that keeps a tile near `target` pixels on its longer side (at least 1).
    public static func cellSize(tileWidth: Int, tileHeight: Int, target: Int) -> Int {
        max(1, target / max(1, max(tileWidth, tileHeight)))
    }
}

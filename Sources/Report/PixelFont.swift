/// A 3 x 5 pixel font for numbers drawn into PNG pictures: digits, `.`, `-`, `+`, `e` and space.
public enum PixelFont {
    /// Each glyph: five rows of three bits, the high bit on the left.
    static let glyphs: [Character: [UInt8]] = [
        "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7], "4": [5, 5, 7, 1, 1],
        "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 1, 1], "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7],
        ".": [0, 0, 0, 0, 2], "-": [0, 0, 7, 0, 0], "+": [0, 2, 7, 2, 0], "e": [0, 7, 7, 4, 7], " ": [0, 0, 0, 0, 0],
    ]

    /// Width in pixels of `text` at `scale`.
    public static func width(_ text: String, scale: Int) -> Int { text.count * 4 * scale }

    /// Draws `text` with its top-left at (x, y); characters without a glyph are left blank.
    public static func draw(_ text: String, into image: inout RGBImage, x: Int, y: Int, scale: Int, colour: RGB) {
        for (i, ch) in text.enumerated() {
            guard let rows = glyphs[ch] else { continue }
            for (r, bits) in rows.enumerated() {
                for c in 0..<3 where bits & (4 >> c) != 0 {
                    image.fillRect(x: x + (i * 4 + c) * scale, y: y + r * scale, width: scale, height: scale, colour)
                }
            }
        }
    }
}

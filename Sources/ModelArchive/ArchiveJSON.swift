import Foundation

/// The JSON every format writes for the document's structured parts (training state, headers, metadata
/// blocks): sorted keys and unescaped slashes for deterministic bytes, and the non-finite floats a training
/// state can hold (a diverged loss) as the strings `NaN`, `Infinity` and `-Infinity`.
public enum ArchiveJSON {
    /// An encoder with these settings.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return encoder
    }

    /// The decoder matching ``encoder()``.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return decoder
    }
}

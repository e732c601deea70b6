import Foundation

/// Expected predictions saved next to a Keras fixture (`Fixtures/keras/NAME.expected.json`) by
/// `Fixtures/keras/make_fixtures.py` (legacy `.h5` files) or `Fixtures/keras/make_keras3_fixtures.py` (`.keras`
/// and `.weights.h5` files).
public struct KerasExpectation: Decodable, Sendable {
    /// The shape of the inputs as one batch, `[n, height, width, channels]`.
    public var input_shape: [Int]
    /// The inputs Keras predicted on, each flattened.
    public var inputs: [[Float]]
    /// Keras' prediction for each input.
    public var outputs: [[Float]]

    /// Loads the expectation of fixture `name` from ``TestFiles/kerasFixtures``.
    ///
    /// - Throws: the error reading or decoding the file.
    public static func load(_ name: String) throws -> KerasExpectation {
        let data = try Data(contentsOf: TestFiles.kerasFixtures.appendingPathComponent("\(name).expected.json"))
        return try JSONDecoder().decode(KerasExpectation.self, from: data)
    }
}

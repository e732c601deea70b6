/// The library's random number generator: xoshiro256** (Blackman and Vigna, 2018).
///
/// The whole state is the four 64-bit words of ``state``; saving them and restoring them resumes the exact
/// sequence. Seeding expands a 64-bit seed with SplitMix64, as the xoshiro authors recommend. Derived draws:
/// - ``next(below:)``: Lemire's multiply-shift with rejection, unbiased.
/// - ``nextUnitDouble()``: the top 53 bits divided by 2^53, in [0, 1).
/// - ``nextGaussian()``: Box-Muller on two unit doubles, one value per call (the second is discarded, so the
///   state alone determines the sequence).
/// - ``shuffle(_:)``: Fisher-Yates from the last index down, drawing `next(below: i + 1)`.
public struct RandomGenerator: RandomNumberGenerator, Sendable, Hashable, Codable {
    /// The four state words; never all zero.
    public var state: [UInt64]

    /// Seeds the generator by running SplitMix64 from `seed`.
    public init(seed: UInt64) {
        var x = seed
        var words: [UInt64] = []
        for _ in 0..<4 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            words.append(z ^ (z >> 31))
        }
        state = words
    }

    /// Restores a saved state.
    ///
    /// - Throws: ``ConvNetError/incompatibleTrainingState(reason:)`` unless it is four words, not all zero.
    public init(state: [UInt64]) throws {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else {
            throw ConvNetError.incompatibleTrainingState(reason: "an RNG state is 4 words, not all zero; found \(state)")
        }
        self.state = state
    }

    /// The next 64 random bits (xoshiro256**), advancing the state.
    public mutating func next() -> UInt64 {
        let result = rotl(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = rotl(state[3], 45)
        return result
    }

    /// A uniform integer in `0..<bound` (Lemire's method); 0 when `bound` is 0.
    public mutating func next(below bound: UInt64) -> UInt64 {
        guard bound > 0 else { return 0 }
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return m.high
    }

    /// A uniform double in [0, 1).
    public mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A standard normal draw (Box-Muller).
    public mutating func nextGaussian() -> Double {
        let u1 = 1.0 - nextUnitDouble() // (0, 1]
        let u2 = nextUnitDouble()
        return (-2.0 * _log(u1)).squareRoot() * _cos(2.0 * Double.pi * u2)
    }

    /// Shuffles in place with Fisher-Yates.
    public mutating func shuffle<T>(_ elements: inout [T]) {
        var i = elements.count - 1
        while i > 0 {
            let j = Int(next(below: UInt64(i + 1)))
            elements.swapAt(i, j)
            i -= 1
        }
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

@inline(__always) private func _log(_ x: Double) -> Double { Foundation_log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation_cos(x) }

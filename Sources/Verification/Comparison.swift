import ConvNet

/// The verifier's pass rule (`Documentation/cli.md`, "Verification"): element-wise `|a - b| <= atol + rtol * |b|` (NumPy's `allclose`, `b` the
/// reference); bitwise-equal elements (NaN payloads included) always pass.
public struct Tolerance: Sendable, Hashable, Codable {
    /// The absolute tolerance.
    public var atol: Double
    /// The relative tolerance, a fraction of `|b|`.
    public var rtol: Double

    /// A tolerance; both 0 is exact equality.
    public init(atol: Double = 0, rtol: Double = 0) {
        self.atol = atol
        self.rtol = rtol
    }

    /// Exact equality.
    public static let exact = Tolerance()

    /// Whether `a` passes against the reference `b`.
    @inline(__always)
    public func accepts(_ a: Float, _ b: Float) -> Bool {
        if a.bitPattern == b.bitPattern { return true }
        let da = Double(a), db = Double(b)
        guard da.isFinite, db.isFinite else { return da == db }
        return abs(da - db) <= atol + rtol * abs(db)
    }
}

/// How two sets of outputs (rows of `width` values, one per input) agree.
public struct OutputComparison: Sendable, Hashable, Codable {
    /// True when every element passes.
    public var passed: Bool
    /// Inputs compared.
    public var count: Int
    /// The largest absolute difference.
    public var maxAbsError: Double
    /// The mean absolute difference.
    public var meanAbsError: Double
    /// The largest difference relative to `|b|`.
    public var maxRelError: Double
    /// Inputs whose argmax agrees.
    public var argmaxAgreement: Int
    /// The input with the largest absolute error (0 when all agree).
    public var worstInput: Int
    /// Elements failing the tolerance.
    public var failingElements: Int
    /// The tolerance applied.
    public var tolerance: Tolerance

    enum CodingKeys: String, CodingKey {
        case passed, count, maxAbsError = "max_abs_error", meanAbsError = "mean_abs_error", maxRelError = "max_rel_error",
             argmaxAgreement = "argmax_agreement", worstInput = "worst_input", failingElements = "failing_elements", tolerance
    }

    /// Compares `actual` with `reference` row by row; values one side lacks (a count mismatch) fail.
    public init(actual: [Float], reference: [Float], width: Int, tolerance: Tolerance) {
        let width = max(width, 1)
        let missing = abs(actual.count - reference.count)
        let actual = Array(actual.prefix(reference.count)), reference = Array(reference.prefix(actual.count))
        count = actual.count / width
        self.tolerance = tolerance
        var maxAbs = 0.0, sumAbs = 0.0, maxRel = 0.0, failing = 0, agree = 0, worst = 0
        for row in 0..<count {
            var bestA = row * width, bestB = row * width
            for j in (row * width)..<((row + 1) * width) {
                let a = actual[j], b = reference[j]
                if !tolerance.accepts(a, b) { failing += 1 }
                let diff = a.bitPattern == b.bitPattern ? 0 : abs(Double(a) - Double(b))
                let d = diff.isNaN ? Double.infinity : diff
                if d > maxAbs { maxAbs = d; worst = row }
                sumAbs += d
                if b != 0 { maxRel = max(maxRel, d / abs(Double(b))) } else if d > 0 { maxRel = .infinity }
                if a > actual[bestA] { bestA = j }
                if b > reference[bestB] { bestB = j }
            }
            if bestA - row * width == bestB - row * width { agree += 1 }
        }
        maxAbsError = maxAbs
        meanAbsError = actual.isEmpty ? 0 : sumAbs / Double(actual.count)
        maxRelError = maxRel
        argmaxAgreement = agree
        worstInput = worst
        failingElements = failing + missing
        passed = failingElements == 0
    }
}

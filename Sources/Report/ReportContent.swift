import ConvNet
import ModelArchive
import Verification

/// Everything a report shows, collected from a model by ``ReportBuilder`` and drawn by ``HTMLPage``.
public struct ReportContent: Sendable {
    /// One row of the architecture table.
    public struct Layer: Sendable, Hashable {
        public var name: String
        public var type: String
        public var output: [Int]
        public var parameters: Int
    }

    /// What opening and verifying the file showed.
    public struct FileFacts: Sendable {
        public var path: String
        public var format: String
        public var formatVersion: String
        public var bytes: Int
        /// What the format's own checks covered (``ModelFileFormat/integrity``).
        public var integrity: String

        public init(path: String, format: String, formatVersion: String, bytes: Int, integrity: String) {
            self.path = path
            self.format = format
            self.formatVersion = formatVersion
            self.bytes = bytes
            self.integrity = integrity
        }
    }

    /// The input images the pictures of activations show.
    public struct InputImage: Sendable {
        /// Raw pixels, `[h, w, c]`.
        public var pixels: [Float]
        /// Where it comes from: `probe 0`, `data 12 (label Bag)`.
        public var caption: String
    }

    /// A named histogram.
    public struct NamedHistogram: Sendable {
        public var name: String
        public var histogram: Histogram
    }

    public var file: FileFacts
    public var architecture: Architecture
    public var layers: [Layer]
    public var verification: VerifyReport
    public var metadata: [String: String]
    public var probes: (count: Int, source: String)?
    public var trainingState: TrainingState?
    public var filters: [FilterGrid] = []
    public var inputs: [InputImage] = []
    public var featureMaps: [FeatureMapGrid] = []
    public var weightHistograms: [NamedHistogram] = []
    public var activationHistograms: [NamedHistogram] = []
    public var evaluation: Evaluation?
    public var comparison: ModelComparison?
}

/// Accuracy on labelled data, the confusion matrix and the most confident mistakes.
public struct Evaluation: Sendable {
    /// One wrong prediction.
    public struct Mistake: Sendable {
        public var index: Int
        public var label: Int
        public var predicted: Int
        public var confidence: Double
        public var pixels: [Float]
    }

    public var source: String
    public var classNames: [String]
    /// `matrix[true][predicted]`.
    public var matrix: [[Int]]
    public var mistakes: [Mistake]

    public var count: Int { matrix.reduce(0) { $0 + $1.reduce(0, +) } }
    public var correct: Int { matrix.indices.reduce(0) { $0 + ($1 < matrix[$1].count ? matrix[$1][$1] : 0) } }
    public var accuracy: Double { count == 0 ? 0 : Double(correct) / Double(count) }
}

/// The model against a reference, layer by layer on the same inputs (the reference is `b`).
public struct ModelComparison: Sendable {
    /// Largest absolute difference per layer (only when both models have the same layers and shapes).
    public var layerMaxErrors: [(layer: String, maxError: Double, maxReference: Double)]
    /// Absolute output errors.
    public var errors: Histogram
    /// (|reference|, |error|) for every output value.
    public var errorVersusMagnitude: [(x: Double, y: Double)]
    public var other: String
    public var inputs: String
    public var maxError: Double
    public var argmaxAgreement: Int
    public var count: Int
}

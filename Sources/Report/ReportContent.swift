import ConvNet
import ModelArchive
import Verification

/// Everything a report shows, collected from a model by ``ReportBuilder`` and drawn by ``HTMLPage``.
public struct ReportContent: Sendable {
    /// One row of the architecture table.
    public struct Layer: Sendable, Hashable {
        /// The name.
        public var name: String
        /// The layer type (`conv2d`, `dense`, ...).
        public var type: String
        /// The output shape.
        public var output: [Int]
        /// Parameter values of the layer.
        public var parameters: Int
    }

    /// What opening and verifying the file showed.
    public struct FileFacts: Sendable {
        /// The path as given.
        public var path: String
        /// The detected format.
        public var format: String
        /// The format's version as the file states it.
        public var formatVersion: String
        /// The file's size.
        public var bytes: Int
        /// What the format's own checks covered (`ModelFileFormat/integrity`).
        public var integrity: String

        /// The facts of one file.
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
        /// The name.
        public var name: String
        /// The counts.
        public var histogram: Histogram
    }

    /// The file.
    public var file: FileFacts
    /// The model's architecture.
    public var architecture: Architecture
    /// One row per layer.
    public var layers: [Layer]
    /// The verifier's report on the file (and the reference).
    public var verification: VerifyReport
    /// The file's metadata.
    public var metadata: [String: String]
    /// The probes stored: how many, and their source.
    public var probes: (count: Int, source: String)?
    /// The training state's scalars, history and curve.
    public var trainingState: TrainingState?
    /// One grid per conv layer.
    public var filters: [FilterGrid] = []
    /// The images the feature maps and activation histograms show.
    public var inputs: [InputImage] = []
    /// One grid per conv and pooling layer.
    public var featureMaps: [FeatureMapGrid] = []
    /// One histogram per parameter tensor.
    public var weightHistograms: [NamedHistogram] = []
    /// One histogram per layer.
    public var activationHistograms: [NamedHistogram] = []
    /// With data.
    public var evaluation: Evaluation?
    /// With a reference model.
    public var comparison: ModelComparison?
}

/// Accuracy on labelled data, the confusion matrix and the most confident mistakes.
public struct Evaluation: Sendable {
    /// One wrong prediction.
    public struct Mistake: Sendable {
        /// The example's index in the data.
        public var index: Int
        /// The true label.
        public var label: Int
        /// The label predicted.
        public var predicted: Int
        /// The probability given to the predicted label.
        public var confidence: Double
        /// The image's raw pixels.
        public var pixels: [Float]
    }

    /// What the data is.
    public var source: String
    /// A name per label.
    public var classNames: [String]
    /// `matrix[true][predicted]`.
    public var matrix: [[Int]]
    /// The most confident mistakes, most confident first.
    public var mistakes: [Mistake]

    /// Examples evaluated.
    public var count: Int { matrix.reduce(0) { $0 + $1.reduce(0, +) } }
    /// Examples predicted right (the diagonal).
    public var correct: Int { matrix.indices.reduce(0) { $0 + ($1 < matrix[$1].count ? matrix[$1][$1] : 0) } }
    /// ``correct`` / ``count``.
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
    /// The reference's path.
    public var other: String
    /// What the compared inputs are.
    public var inputs: String
    /// The largest absolute output error.
    public var maxError: Double
    /// Inputs whose highest output is the same class in both.
    public var argmaxAgreement: Int
    /// Inputs compared.
    public var count: Int
}

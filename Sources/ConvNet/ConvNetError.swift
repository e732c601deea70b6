/// Everything that can go wrong in the network library, with what a person needs to fix it.
public enum ConvNetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An architecture that cannot be built: the layer (index and name) and why.
    case invalidArchitecture(layer: String?, reason: String)
    /// A parameter or input whose shape is not the one expected.
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    /// A parameter name the architecture does not have.
    case unknownParameter(name: String)
    /// A parameter the architecture needs but the given set lacks.
    case missingParameter(name: String)
    /// Training settings that cannot work together.
    case invalidTrainingConfiguration(reason: String)
    /// A training state that does not fit the network or data it is resumed with.
    case incompatibleTrainingState(reason: String)
    /// Training produced a loss or weights that are not finite (NaN or infinite): the optimizer step `step`
    /// (1-based, counted over the whole training), in epoch `epoch` (1-based), on examples `examples` of an
    /// epoch of `epochSize`. The step was not applied.
    case diverged(step: Int, epoch: Int, examples: ClosedRange<Int>, epochSize: Int, what: String)

    public var description: String {
        switch self {
        case let .invalidArchitecture(layer, reason):
            if let layer { return "invalid architecture at layer \(layer): \(reason)" }
            return "invalid architecture: \(reason)"
        case let .shapeMismatch(name, expected, found):
            return "tensor \(name): expected shape \(expected), found \(found)"
        case let .unknownParameter(name):
            return "tensor \(name) is not a parameter of this architecture"
        case let .missingParameter(name):
            return "tensor \(name) is required by the architecture but missing"
        case let .invalidTrainingConfiguration(reason):
            return "invalid training configuration: \(reason)"
        case let .incompatibleTrainingState(reason):
            return "training state cannot be resumed: \(reason)"
        case let .diverged(step, epoch, examples, epochSize, what):
            let which = examples.count == 1 ? "example \(examples.lowerBound)" : "examples \(examples.lowerBound)-\(examples.upperBound)"
            return "training diverged: \(what) at step \(step) (epoch \(epoch), \(which) of \(epochSize)); lower --lr (or use a larger --batch-size)"
        }
    }
}

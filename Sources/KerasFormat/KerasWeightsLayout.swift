import ConvNet

/// Names and paths of the Keras 3 weights layout (`.weights.h5` and the `model.weights.h5` inside a `.keras`;
/// `Schemas/keras-mapping.md` §2).
///
/// Keras 3 addresses a `Sequential` model's layers not by their names but by their
/// class: the group of a layer is its class name in snake case (`conv2d`, `dense`, `re_lu`, `max_pooling2d`,
/// `flatten`, `rescaling`, `softmax`), with `_1`, `_2`, ... for the second and later layers of one class, in model
/// order. A layer's variables are the datasets `0`, `1`, ... of its `vars` group (kernel, then bias), and the
/// group's `@name` is the layer's own name. The `InputLayer` has no group.
enum KerasWeightsLayout {
    /// `/layers`.
    static let layers = "layers"
    /// The group of a layer's or the model's variables, and of the optimizer's.
    static let vars = "vars"
    /// `/optimizer`.
    static let optimizer = "optimizer"

    /// One Keras layer of the written model: its group below `/layers`, its Keras name (`vars@name`) and, when it
    /// holds weights, our layer whose parameters it holds.
    struct Entry: Equatable {
        var group: String
        var name: String
        var weightsOf: Layer?
    }

    /// Every Keras layer written for an architecture, in model order: `rescaling` first, then one per layer (a
    /// softmax after a dense layer is that layer's activation, as in ``KerasModelConfig``).
    static func entries(_ architecture: Architecture) -> [Entry] {
        var counts: [String: Int] = [:]
        func group(_ base: String) -> String {
            let n = counts[base, default: 0]
            counts[base] = n + 1
            return n == 0 ? base : "\(base)_\(n)"
        }
        let byName = Dictionary(architecture.layers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        return KerasModelConfig.plan(architecture).enumerated().map { index, planned in
            guard index > 0, let layer = byName[planned.name] else {
                return Entry(group: group("rescaling"), name: planned.name, weightsOf: nil)
            }
            return Entry(group: group(layer.kind.kerasBaseName), name: planned.name, weightsOf: planned.weightsOf)
        }
    }

    /// The `/layers` group holding each layer with parameters (`conv2d`, `conv2d_1`, ..., `dense`, `dense_1`,
    /// ...), keyed by our layer name. It depends only on the order of the convolution and dense layers, so it
    /// also holds for files Keras wrote from models with other activation layers.
    static func weightGroups(_ architecture: Architecture) -> [String: String] {
        var counts: [String: Int] = [:]
        var groups: [String: String] = [:]
        for layer in architecture.layers {
            switch layer.kind {
            case .conv2d, .dense:
                let base = layer.kind.kerasBaseName
                let n = counts[base, default: 0]
                counts[base] = n + 1
                groups[layer.name] = n == 0 ? base : "\(base)_\(n)"
            default:
                continue
            }
        }
        return groups
    }
}

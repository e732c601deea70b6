import ConvNet

/// Our ``Architecture`` as a Keras 3 `Sequential` model config, and back (`Schemas/hdf5-layout.md`, "Keras
/// model config").
///
/// Writing: `InputLayer`, `Rescaling(scale, offset)` for the preprocessing, then one Keras layer per layer:
/// `Conv2D` (activation `linear`), `ReLU`, `MaxPooling2D`, `Flatten`, `Dense`, `Softmax`; a softmax that follows
/// a dense layer becomes that `Dense` layer's `activation: softmax`, as Keras users write it.
///
/// Reading: the same layers plus `Activation(relu|softmax|linear)` and `activation: relu|softmax|linear` on
/// `Conv2D`/`Dense`; anything else is ``HDF5Error/unsupported(file:location:reason:)`` naming the layer and the
/// option. A missing `Rescaling` means scale 1, offset 0.
enum KerasModelConfig {
    /// One Keras layer of the written model: its name and, when it has weights, our layer it holds them for.
    struct PlannedLayer {
        var name: String
        var weightsOf: Layer?
    }

    /// The Keras layers written for an architecture, in order (the `Rescaling` layer first).
    static func plan(_ architecture: Architecture) -> [PlannedLayer] {
        var planned = [PlannedLayer(name: rescalingName(architecture), weightsOf: nil)]
        for (index, layer) in architecture.layers.enumerated() {
            if case .softmax = layer.kind, index > 0, case .dense = architecture.layers[index - 1].kind { continue }
            switch layer.kind {
            case .conv2d, .dense: planned.append(PlannedLayer(name: layer.name, weightsOf: layer))
            default: planned.append(PlannedLayer(name: layer.name, weightsOf: nil))
            }
        }
        return planned
    }

    /// `rescaling`, or `rescaling_N` when a layer already has that name.
    static func rescalingName(_ architecture: Architecture) -> String {
        let names = Set(architecture.layers.map(\.name))
        var candidate = "rescaling", n = 0
        while names.contains(candidate) {
            n += 1
            candidate = "rescaling_\(n)"
        }
        return candidate
    }

    // MARK: Writing

    static let dtypePolicy: JSONValue = .object([
        ("module", .string("keras")), ("class_name", .string("DTypePolicy")),
        ("config", .object([("name", .string("float32"))])), ("registered_name", .null),
    ])

    private static func initializer(_ name: String, _ config: [(String, JSONValue)]) -> JSONValue {
        .object([("module", .string("keras.initializers")), ("class_name", .string(name)), ("config", .object(config)),
                 ("registered_name", .null)])
    }

    private static let glorot = initializer("GlorotUniform", [("seed", .null), ("input_axes", .null), ("output_axes", .null)])
    private static let zeros = initializer("Zeros", [])

    private static func ints(_ values: [Int]) -> JSONValue { .array(values.map { .int($0) }) }

    private static func layer(_ className: String, _ name: String, _ fields: [(String, JSONValue)]) -> JSONValue {
        .object([("class_name", .string(className)),
                  ("config", .object([("name", .string(name)), ("trainable", .bool(true)), ("dtype", dtypePolicy)] + fields))])
    }

    /// The model config JSON for an architecture, as Keras 3.15 writes it for the equivalent `Sequential`.
    static func modelConfig(_ architecture: Architecture) -> JSONValue {
        let batchShape: JSONValue = .array([.null, .int(architecture.input.height), .int(architecture.input.width), .int(architecture.input.channels)])
        var layers: [JSONValue] = [
            .object([("class_name", .string("InputLayer")), ("config", .object([
                ("batch_shape", batchShape), ("dtype", .string("float32")), ("sparse", .bool(false)), ("ragged", .bool(false)),
                ("name", .string("input_layer")), ("optional", .bool(false)),
            ]))]),
            layer("Rescaling", rescalingName(architecture), [
                ("scale", .double(Double(architecture.preprocessing.scale))), ("offset", .double(Double(architecture.preprocessing.offset))),
            ]),
        ]
        for (index, item) in architecture.layers.enumerated() {
            let followedBySoftmax: Bool
            if index + 1 < architecture.layers.count, case .softmax = architecture.layers[index + 1].kind { followedBySoftmax = true } else { followedBySoftmax = false }
            switch item.kind {
            case let .conv2d(spec):
                layers.append(layer("Conv2D", item.name, [
                    ("filters", .int(spec.filters)), ("kernel_size", ints(spec.kernel)), ("strides", ints(spec.stride)),
                    ("padding", .string(spec.padding.rawValue)), ("data_format", .string("channels_last")),
                    ("dilation_rate", ints([1, 1])), ("groups", .int(1)), ("activation", .string("linear")),
                    ("use_bias", .bool(spec.bias)), ("kernel_initializer", glorot), ("bias_initializer", zeros),
                    ("kernel_regularizer", .null), ("bias_regularizer", .null), ("activity_regularizer", .null),
                    ("kernel_constraint", .null), ("bias_constraint", .null),
                ]))
            case .relu:
                layers.append(layer("ReLU", item.name, [("max_value", .null), ("negative_slope", .double(0)), ("threshold", .double(0))]))
            case let .maxPool2d(spec):
                layers.append(layer("MaxPooling2D", item.name, [
                    ("pool_size", ints(spec.pool)), ("padding", .string(spec.padding.rawValue)), ("strides", ints(spec.stride)),
                    ("data_format", .string("channels_last")),
                ]))
            case .flatten:
                layers.append(layer("Flatten", item.name, [("data_format", .string("channels_last"))]))
            case let .dense(spec):
                layers.append(layer("Dense", item.name, [
                    ("units", .int(spec.units)), ("activation", .string(followedBySoftmax ? "softmax" : "linear")),
                    ("use_bias", .bool(spec.bias)), ("kernel_initializer", glorot), ("bias_initializer", zeros),
                    ("kernel_regularizer", .null), ("bias_regularizer", .null), ("kernel_constraint", .null),
                    ("bias_constraint", .null), ("quantization_config", .null),
                ]))
            case .softmax:
                if index > 0, case .dense = architecture.layers[index - 1].kind { continue }
                layers.append(layer("Softmax", item.name, [("axis", .int(-1))]))
            }
        }
        return .object([("class_name", .string("Sequential")), ("config", .object([
            ("name", .string("sequential")), ("trainable", .bool(true)), ("dtype", dtypePolicy), ("layers", .array(layers)),
            ("build_input_shape", batchShape),
        ]))])
    }
}

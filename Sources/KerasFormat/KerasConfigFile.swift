import ConvNet
import Foundation
import HDF5Format
import ModelArchive

/// The `config.json` of a Keras 3 saved model (a member of a `.keras` zip, or a file beside a `.weights.h5` in
/// Keras' folder format), as Keras 3.15 writes it for a `Sequential` model (`Schemas/keras-mapping.md` §1.2).
///
/// It is the model config of the legacy `.h5` (`KerasModelConfig`) with each object's `module` and
/// `registered_name`, each built layer's `build_config` and, for a model with a training state, the
/// `compile_config` with its optimizer.
public enum KerasConfigFile {
    /// The Keras classes whose layers record a `build_config` (those that define `build`).
    static let builtClasses: Set<String> = ["Rescaling", "Conv2D", "Flatten", "Dense"]

    /// The `config.json` text for a document: Python `json.dumps` style, deterministic.
    ///
    /// - Parameter document: the model; a training state adds the `compile_config`.
    public static func json(for document: ModelDocument) -> String {
        value(for: document).serialized()
    }

    static func value(for document: ModelDocument) -> JSONValue {
        let architecture = document.architecture
        guard case let .object(rootPairs) = KerasModelConfig.modelConfig(architecture),
              case let .object(configPairs)? = rootPairs.first(where: { $0.0 == "config" })?.1 else {
            return KerasModelConfig.modelConfig(architecture)
        }
        let inputs = layerInputShapes(architecture)
        let config: [(String, JSONValue)] = configPairs.map { key, value in
            guard key == "layers", case let .array(layers) = value else { return (key, value) }
            // layers[0] is the InputLayer; layers[k] for k >= 1 receives inputs[k - 1].
            let annotated = layers.enumerated().map { index, layer in
                annotate(layer, module: "keras.layers", input: index == 0 || index - 1 >= inputs.count ? nil : inputs[index - 1])
            }
            return (key, .array(annotated))
        }
        var root: [(String, JSONValue)] = [
            ("module", .string("keras")), ("class_name", .string("Sequential")), ("config", .object(config)), ("registered_name", .null),
            ("build_config", .object([("input_shape", batchShape(architecture.input))])),
        ]
        if let state = document.trainingState { root.append(("compile_config", compileConfig(state.optimizer))) }
        return .object(root)
    }

    /// Adds `module`, `registered_name` and, for the classes that define `build`, `build_config` to a layer.
    private static func annotate(_ layer: JSONValue, module: String, input: JSONValue?) -> JSONValue {
        guard case let .object(pairs) = layer, case let .string(className)? = pairs.first(where: { $0.0 == "class_name" })?.1 else { return layer }
        var result: [(String, JSONValue)] = [("module", .string(module))] + pairs + [("registered_name", .null)]
        if builtClasses.contains(className), let input { result.append(("build_config", .object([("input_shape", input)]))) }
        return .object(result)
    }

    /// `[null, h, w, c]`, or `[null, n]` for a flat shape.
    private static func batchShape(_ shape: ActivationShape) -> JSONValue {
        .array([.null] + shape.dimensions.map { .int($0) })
    }

    /// The input shape of every Keras layer after the `InputLayer`: `Rescaling`, then each layer that is not a
    /// softmax folded into the dense layer before it.
    private static func layerInputShapes(_ architecture: Architecture) -> [JSONValue] {
        guard let shapes = try? architecture.activationShapes() else { return [] }
        var result = [batchShape(architecture.input)]
        for (index, layer) in architecture.layers.enumerated() {
            if case .softmax = layer.kind, index > 0, case .dense = architecture.layers[index - 1].kind { continue }
            result.append(batchShape(shapes[index]))
        }
        return result
    }

    /// `compile_config`: the optimizer as a serialized Keras object, then the legacy training config's fields.
    private static func compileConfig(_ optimizer: OptimizerConfig) -> JSONValue {
        guard case let .object(pairs) = KerasTrainingConfig.trainingConfig(optimizer) else { return .null }
        var result: [(String, JSONValue)] = []
        for (key, value) in pairs {
            guard key == "optimizer_config" else { continue }
            guard case let .object(optimizerPairs) = value else { continue }
            result.append(("optimizer", .object([("module", .string("keras.optimizers"))] + optimizerPairs + [("registered_name", .null)])))
        }
        return .object(result + pairs.filter { $0.0 != "optimizer_config" })
    }

    /// Reads the architecture and, when the model was compiled, the optimizer from a `config.json`.
    ///
    /// - Parameters:
    ///   - json: the member's text.
    ///   - file: the file the user named, for messages.
    ///   - location: where the text came from inside it (`config.json`).
    /// - Returns: the architecture (a `Sequential` of supported layers, `Schemas/hdf5-layout.md` §2.2) and the
    ///   optimizer of `compile_config` (nil when the model was not compiled).
    /// - Throws: ``HDF5Error/invalid(file:location:reason:)`` for malformed JSON,
    ///   ``HDF5Error/unsupported(file:location:reason:)`` naming the layer or optimizer option CNNKit lacks.
    public static func read(json: String, file: String, location: String) throws -> (architecture: Architecture, optimizer: OptimizerConfig?) {
        let check = HDF5Checker(file: file, writing: false)
        let architecture = try KerasModelConfig.architecture(modelConfig: json, check: check, location: location)
        guard let root = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let compile = root["compile_config"] as? [String: Any], let raw = compile["optimizer"], !(raw is NSNull) else {
            return (architecture, nil)
        }
        let optimizer: Any = (raw as? String).map { ["class_name": $0, "config": [String: Any]()] } ?? raw
        guard JSONSerialization.isValidJSONObject(["optimizer_config": optimizer]),
              let data = try? JSONSerialization.data(withJSONObject: ["optimizer_config": optimizer]) else {
            throw check.invalid("\(location) compile_config.optimizer", "not a JSON object")
        }
        let config = try KerasTrainingConfig.optimizer(trainingConfig: String(decoding: data, as: UTF8.self), check: check,
                                                       location: "\(location) compile_config.optimizer")
        return (architecture, config)
    }
}

import ConvNet
import Foundation
import HDF5Format

/// Our ``OptimizerConfig`` as Keras 3's `training_config` root attribute and `/optimizer_weights` names, and
/// back (`Schemas/hdf5-layout.md`, "Keras training config").
///
/// Keras compiles a loaded model from `training_config` (loss `sparse_categorical_crossentropy` on the softmax
/// output, metric `accuracy`) and then sets the optimizer's variables from `/optimizer_weights` in order:
/// `iteration`, `learning_rate`, then each trainable variable's slots (SGD: `momentum`; Adam: `momentum`,
/// `velocity`), which is our slot order.
enum KerasTrainingConfig {
    /// Keras' optimizer name, used as the group below `/optimizer_weights` (`sgd`, `adam`).
    static func optimizerName(_ kind: OptimizerKind) -> String { kind.rawValue }

    /// The name Keras gives one optimizer slot of a parameter `layer.param`: `sequential_<layer>_<param>_<slot>`.
    static func slotDatasetName(parameter: String, slot: String) -> String {
        "sequential_" + parameter.replacingOccurrences(of: ".", with: "_") + "_" + slot
    }

    /// The `training_config` JSON for an optimizer, as Keras 3.15 writes it.
    static func trainingConfig(_ optimizer: OptimizerConfig) -> JSONValue {
        var config: [(String, JSONValue)] = [
            ("name", .string(optimizerName(optimizer.kind))), ("learning_rate", .double(Double(optimizer.learningRate))),
            ("weight_decay", .null), ("clipnorm", .null), ("global_clipnorm", .null), ("clipvalue", .null),
            ("use_ema", .bool(false)), ("ema_momentum", .double(0.99)), ("ema_overwrite_frequency", .null),
            ("loss_scale_factor", .null), ("gradient_accumulation_steps", .null),
        ]
        let className: String
        switch optimizer.kind {
        case .sgd:
            className = "SGD"
            config += [("momentum", .double(Double(optimizer.momentum))), ("nesterov", .bool(optimizer.nesterov))]
        case .adam:
            className = "Adam"
            config += [("beta_1", .double(Double(optimizer.beta1))), ("beta_2", .double(Double(optimizer.beta2))),
                       ("epsilon", .double(Double(optimizer.epsilon))), ("amsgrad", .bool(false))]
        }
        return .object([
            ("loss", .string("sparse_categorical_crossentropy")), ("loss_weights", .null), ("metrics", .array([.string("accuracy")])),
            ("weighted_metrics", .null), ("run_eagerly", .bool(false)), ("steps_per_execution", .int(1)), ("jit_compile", .bool(true)),
            ("optimizer_config", .object([("class_name", .string(className)), ("config", .object(config))])),
        ])
    }

    /// Reads the optimizer from a Keras `training_config` (SGD with or without momentum/Nesterov, or Adam).
    ///
    /// - Throws: ``HDF5Error/unsupported(file:location:reason:)`` naming the optimizer and the option CNNKit
    ///   lacks (another optimizer, AMSGrad, weight decay, clipping, EMA, schedules, ...).
    static func optimizer(trainingConfig text: String, check: HDF5Checker, location: String) throws -> OptimizerConfig {
        guard let root = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let optimizer = root["optimizer_config"] as? [String: Any] else {
            throw check.invalid(location, "training_config is not a JSON object with optimizer_config")
        }
        let className = optimizer["class_name"] as? String ?? "?"
        let config = optimizer["config"] as? [String: Any] ?? [:]
        func unsupported(_ option: String, _ value: Any) -> HDF5Error {
            check.unsupported(location, "optimizer \(className) option \(option) = \(value)")
        }
        func number(_ key: String, _ fallback: Double) throws -> Float {
            guard let raw = config[key], !(raw is NSNull) else { return Float(fallback) }
            guard let n = raw as? NSNumber, n.doubleValue.isFinite else { throw unsupported(key, raw) }
            return Float(n.doubleValue)
        }
        for key in ["weight_decay", "clipnorm", "global_clipnorm", "clipvalue", "loss_scale_factor", "gradient_accumulation_steps"] {
            if let raw = config[key], !(raw is NSNull) {
                if let n = raw as? NSNumber, n.doubleValue == 0, key == "weight_decay" { continue }
                throw unsupported(key, raw)
            }
        }
        if let ema = config["use_ema"] as? Bool, ema { throw unsupported("use_ema", true) }
        var result = OptimizerConfig(learningRate: try number("learning_rate", 0.01))
        switch className.lowercased() {
        case "sgd":
            result.kind = .sgd
            result.momentum = try number("momentum", 0)
            result.nesterov = config["nesterov"] as? Bool ?? false
        case "adam":
            result.kind = .adam
            result.beta1 = try number("beta_1", 0.9)
            result.beta2 = try number("beta_2", 0.999)
            result.epsilon = try number("epsilon", 1e-7)
            if let amsgrad = config["amsgrad"] as? Bool, amsgrad { throw unsupported("amsgrad", true) }
        default:
            throw check.unsupported(location, "optimizer \(className) (CNNKit trains with SGD and Adam)")
        }
        do {
            try result.validate()
        } catch {
            throw check.unsupported(location, "optimizer \(className): \(error)")
        }
        return result
    }
}

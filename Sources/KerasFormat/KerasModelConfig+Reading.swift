import ConvNet
import Foundation
import HDF5Format

extension KerasModelConfig {
    /// One Keras layer config being read, with typed accessors that fail naming the layer and option.
    struct LayerReader {
        let className: String
        let name: String
        let config: [String: Any]
        let check: HDF5Checker
        let location: String

        func unsupported(_ option: String, _ value: Any?) -> HDF5Error {
            check.unsupported(location, "layer '\(name)' (\(className)) option \(option) = \(value.map { "\($0)" } ?? "null")")
        }

        func invalid(_ reason: String) -> HDF5Error {
            check.invalid(location, "layer '\(name)' (\(className)): \(reason)")
        }

        func int(_ key: String) throws -> Int {
            guard let n = config[key] as? NSNumber, let value = Int(exactly: n.doubleValue) else {
                throw invalid("\(key) must be an integer, found \(config[key].map { "\($0)" } ?? "nothing")")
            }
            return value
        }

        func pair(_ key: String, default fallback: [Int]? = nil) throws -> [Int] {
            let raw = config[key]
            if raw == nil || raw is NSNull, let fallback { return fallback }
            if let n = raw as? NSNumber, let v = Int(exactly: n.doubleValue) { return [v, v] }
            guard let list = raw as? [Any], list.count == 2 else { throw invalid("\(key) must be two integers, found \(raw.map { "\($0)" } ?? "nothing")") }
            return try list.map { item in
                guard let n = item as? NSNumber, let v = Int(exactly: n.doubleValue) else { throw invalid("\(key) must be two integers") }
                return v
            }
        }

        func bool(_ key: String, default fallback: Bool) throws -> Bool {
            guard let raw = config[key], !(raw is NSNull) else { return fallback }
            guard let b = raw as? Bool else { throw invalid("\(key) must be true or false") }
            return b
        }

        func float(_ key: String, default fallback: Double) throws -> Double {
            guard let raw = config[key], !(raw is NSNull) else { return fallback }
            guard let n = raw as? NSNumber else { throw unsupported(key, raw) }
            return n.doubleValue
        }

        func padding() throws -> Padding {
            let raw = config["padding"] as? String ?? "valid"
            guard let padding = Padding(rawValue: raw.lowercased()) else { throw unsupported("padding", raw) }
            return padding
        }

        /// Requires `key` to be absent, null, or one of `allowed` (compared as JSON text).
        func require(_ key: String, in allowed: [String]) throws {
            guard let raw = config[key], !(raw is NSNull) else { return }
            let text: String
            if let list = raw as? [Any] { text = "[" + list.map { "\($0)" }.joined(separator: ", ") + "]" } else { text = "\(raw)" }
            guard allowed.contains(text) else { throw unsupported(key, text) }
        }

        /// The activation as our layer kinds: `linear` adds nothing, `relu` and `softmax` add one layer.
        func activation(_ key: String = "activation") throws -> LayerKind? {
            var raw = config[key]
            if let dict = raw as? [String: Any] { raw = dict["config"] ?? dict["class_name"] }
            guard let name = raw as? String ?? (raw == nil || raw is NSNull ? "linear" : nil) else { throw unsupported(key, raw) }
            switch name.lowercased() {
            case "linear": return nil
            case "relu": return .relu
            case "softmax": return .softmax
            default: throw unsupported(key, name)
            }
        }

        func checkDataFormat() throws { try require("data_format", in: ["channels_last"]) }
    }

    /// Reads an architecture from a Keras `model_config` (a `Sequential` of supported layers).
    ///
    /// - Throws: ``HDF5Error/invalid(file:location:reason:)`` for malformed JSON or a missing input shape,
    ///   ``HDF5Error/unsupported(file:location:reason:)`` naming the layer and option that CNNKit lacks.
    static func architecture(modelConfig text: String, check: HDF5Checker, location: String) throws -> Architecture {
        guard let root = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw check.invalid(location, "model_config is not a JSON object")
        }
        let className = root["class_name"] as? String ?? "nothing"
        guard className == "Sequential" else {
            throw check.unsupported(location, "model class \(className) (CNNKit reads Sequential models)")
        }
        guard let config = root["config"] as? [String: Any], let layers = config["layers"] as? [[String: Any]] else {
            throw check.invalid(location, "model_config has no config.layers list")
        }
        var inputShape = (config["build_input_shape"] as? [Any]) ?? (config["batch_input_shape"] as? [Any])
        var preprocessing = Preprocessing(scale: 1, offset: 0)
        var result: [(String?, LayerKind)] = []
        for (index, entry) in layers.enumerated() {
            let layerClass = entry["class_name"] as? String ?? "?"
            let layerConfig = entry["config"] as? [String: Any] ?? [:]
            let name = layerConfig["name"] as? String ?? "layer \(index)"
            let reader = LayerReader(className: layerClass, name: name, config: layerConfig, check: check, location: location)
            switch layerClass {
            case "InputLayer":
                guard index == 0 else { throw reader.invalid("an InputLayer must come first") }
                inputShape = (layerConfig["batch_shape"] as? [Any]) ?? (layerConfig["batch_input_shape"] as? [Any]) ?? inputShape
                try reader.require("sparse", in: ["0", "false"])
                try reader.require("ragged", in: ["0", "false"])
            case "Rescaling":
                guard result.isEmpty else { throw reader.unsupported("position", "after \(result.count) layers (CNNKit rescales only the input)") }
                let scale = try reader.float("scale", default: 1), offset = try reader.float("offset", default: 0)
                guard scale.isFinite, offset.isFinite else { throw reader.unsupported("scale/offset", "\(scale)/\(offset)") }
                preprocessing = Preprocessing(scale: Float(scale) * preprocessing.scale, offset: Float(offset) + Float(scale) * preprocessing.offset)
            case "Conv2D":
                try reader.checkDataFormat()
                try reader.require("dilation_rate", in: ["[1, 1]", "1"])
                try reader.require("groups", in: ["1"])
                let spec = Conv2DSpec(filters: try reader.int("filters"), kernel: try reader.pair("kernel_size"),
                                      stride: try reader.pair("strides", default: [1, 1]), padding: try reader.padding(),
                                      bias: try reader.bool("use_bias", default: true))
                result.append((name, .conv2d(spec)))
                if let activation = try reader.activation() { result.append((nil, activation)) }
            case "MaxPooling2D":
                try reader.checkDataFormat()
                let pool = try reader.pair("pool_size", default: [2, 2])
                result.append((name, .maxPool2d(MaxPool2DSpec(pool: pool, stride: try reader.pair("strides", default: pool), padding: try reader.padding()))))
            case "Flatten":
                try reader.checkDataFormat()
                result.append((name, .flatten))
            case "Dense":
                try reader.require("quantization_config", in: [])
                try reader.require("lora_rank", in: ["0"])
                result.append((name, .dense(DenseSpec(units: try reader.int("units"), bias: try reader.bool("use_bias", default: true)))))
                if let activation = try reader.activation() { result.append((nil, activation)) }
            case "ReLU":
                try reader.require("max_value", in: [])
                try reader.require("negative_slope", in: ["0", "0.0"])
                try reader.require("threshold", in: ["0", "0.0"])
                result.append((name, .relu))
            case "Activation":
                if let activation = try reader.activation() { result.append((name, activation)) }
            case "Softmax":
                try reader.require("axis", in: ["-1", "[-1]"])
                result.append((name, .softmax))
            default:
                throw check.unsupported(location, "layer '\(name)' of class \(layerClass) (CNNKit supports InputLayer, Rescaling, Conv2D, ReLU, Activation, MaxPooling2D, Flatten, Dense, Softmax)")
            }
        }
        guard let shape = inputShape, shape.count == 4,
              let dims = Optional(shape.dropFirst().compactMap { ($0 as? NSNumber).flatMap { Int(exactly: $0.doubleValue) } }), dims.count == 3
        else {
            throw check.invalid(location, "model_config has no 4-D input shape [batch, height, width, channels]")
        }
        let architecture = Architecture(input: ActivationShape(height: dims[0], width: dims[1], channels: dims[2]),
                                        preprocessing: preprocessing, layers: uniquelyNamed(result))
        do {
            try architecture.validate()
        } catch {
            throw check.invalid(location, "the Keras model does not form a valid CNNKit architecture: \(error)")
        }
        return architecture
    }

    /// Keeps Keras' names and names the activations split off `Conv2D`/`Dense` `<layer>_<activation>`.
    static func uniquelyNamed(_ layers: [(String?, LayerKind)]) -> [Layer] {
        var used = Set(layers.compactMap { $0.0 })
        var previous = "layer"
        return layers.map { name, kind in
            if let name {
                previous = name
                return Layer(name: name, kind: kind)
            }
            var candidate = "\(previous)_\(kind.typeName)", n = 0
            while used.contains(candidate) {
                n += 1
                candidate = "\(previous)_\(kind.typeName)_\(n)"
            }
            used.insert(candidate)
            return Layer(name: candidate, kind: kind)
        }
    }
}

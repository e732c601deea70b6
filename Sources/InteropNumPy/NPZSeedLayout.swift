import ConvNet
import ModelArchive

/// The layout of the original NumPy "CNN from scratch" (`Schemas/npz-mapping.md` section 3): `filters`
/// `(n, kh, kw)`, `weights` `(in, units)`, `biases` `(units,)`, and the layers' `last_*` caches, which are ignored.
///
/// The seed computes `conv[i, j, k] = sum(image[i:i+kh, j:j+kw] * filters[k])` (valid, stride 1, no bias), a
/// 2x2 max-pool, a flatten of `(h, w, n)` in C order, `flat @ weights + biases` and a softmax, on
/// `pixel / 255 - 0.5`: exactly ``Architecture/seed`` with `kernel[ky, kx, 0, k] = filters[k, ky, kx]`.
enum NPZSeedLayout {
    static let filters = "filters"
    static let weights = "weights"
    static let biases = "biases"

    /// True when the keys, less `last_*`, are exactly the seed's three.
    static func matches(_ keys: some Sequence<String>) -> Bool {
        Set(keys.filter { !$0.hasPrefix("last_") }) == [filters, weights, biases]
    }

    /// The seed architecture these arrays imply, or `given` after checking that it is one conv (no bias) and
    /// one dense layer of the same shapes.
    ///
    /// The input side is inferred as square: `weights` rows = n * s * s, input = 2s + kh - 1.
    static func document(arrays: [String: NumPyArray], given: Architecture?, file: String) throws -> ModelDocument {
        func fail(_ member: String?, _ reason: String) -> NumPyError { .document(file: file, member: member.map(NPZLayout.member), reason: reason) }
        guard let f = arrays[filters], let w = arrays[weights], let b = arrays[biases] else { throw fail(nil, "the seed layout needs filters, weights and biases") }
        guard f.shape.count == 3, f.shape.allSatisfy({ $0 > 0 }) else { throw fail(filters, "expected shape (n, kh, kw), found \(f.shape)") }
        guard w.shape.count == 2, w.shape.allSatisfy({ $0 > 0 }) else { throw fail(weights, "expected shape (inputs, units), found \(w.shape)") }
        guard b.shape == [w.shape[1]] else { throw fail(biases, "expected shape (\(w.shape[1]),) to match weights \(w.shape), found \(b.shape)") }
        let n = f.shape[0], kh = f.shape[1], kw = f.shape[2]
        let architecture: Architecture
        if let given {
            architecture = given
        } else {
            let perFilter = w.shape[0] / n
            var side = 0
            while (side + 1) * (side + 1) <= perFilter { side += 1 }
            guard w.shape[0] % n == 0, side * side == perFilter, kh == kw else {
                throw fail(weights, "\(w.shape[0]) rows are not \(n) filters times a square pooled image; give the architecture with --architecture FILE.json")
            }
            let inputSide = 2 * side + kh - 1
            architecture = Architecture(input: ActivationShape(height: inputSide, width: inputSide, channels: 1), kinds: [
                .conv2d(Conv2DSpec(filters: n, kernel: [kh, kw])), .maxPool2d(MaxPool2DSpec()), .flatten,
                .dense(DenseSpec(units: w.shape[1])), .softmax,
            ])
        }
        let specs: [ParameterSpec]
        do { specs = try architecture.parameterSpecs() } catch { throw fail(nil, "architecture: \(error)") }
        let expected: [[Int]] = [[kh, kw, 1, n], w.shape, b.shape]
        guard specs.map(\.shape) == expected else {
            throw fail(nil, "the architecture's parameters \(specs.map(\.shape)) do not match the seed's arrays \(expected)")
        }
        var kernel = [Float](repeating: 0, count: n * kh * kw)
        for k in 0..<n {
            for ky in 0..<kh {
                for kx in 0..<kw { kernel[(ky * kw + kx) * n + k] = f.values[(k * kh + ky) * kw + kx] }
            }
        }
        let tensors = [
            NamedTensor(name: specs[0].name, tensor: Tensor(shape: specs[0].shape, scalars: kernel)),
            NamedTensor(name: specs[1].name, tensor: Tensor(shape: w.shape, scalars: w.values)),
            NamedTensor(name: specs[2].name, tensor: Tensor(shape: b.shape, scalars: b.values)),
        ]
        return ModelDocument(architecture: architecture, tensors: tensors, metadata: ["cnnkit.source_layout": "numpy-seed"])
    }
}

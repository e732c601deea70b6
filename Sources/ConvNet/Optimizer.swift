#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The optimizers the trainer offers.
public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
    case sgd
    case adam
}

/// An optimizer and its hyperparameters, with Keras 3's update rules so that Keras can resume our state and we
/// can resume Keras'.
///
/// - SGD: `m = momentum * m - lr * g`; then `w += m` or, with Nesterov, `w += momentum * m - lr * g`. Without
///   momentum, `w -= lr * g` and no slot is kept.
/// - Adam: with `t = step + 1`, `alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)`, `m += (g - m) * (1 - beta1)`,
///   `v += (g^2 - v) * (1 - beta2)`, `w -= m * alpha / (sqrt(v) + epsilon)`.
public struct OptimizerConfig: Codable, Sendable, Hashable {
    /// SGD or Adam.
    public var kind: OptimizerKind
    /// The step size.
    public var learningRate: Float
    /// SGD momentum, 0 to below 1.
    public var momentum: Float
    /// Nesterov momentum (SGD).
    public var nesterov: Bool
    /// Adam's first-moment decay.
    public var beta1: Float
    /// Adam's second-moment decay.
    public var beta2: Float
    /// Adam's denominator guard.
    public var epsilon: Float

    /// An optimizer's settings; the defaults are the seed recipe's SGD and Keras' Adam.
    public init(kind: OptimizerKind = .sgd, learningRate: Float = 0.005, momentum: Float = 0, nesterov: Bool = false,
                beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7) {
        self.kind = kind
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    /// The names of the per-parameter slots this optimizer keeps, in order (Keras' names).
    public var slotNames: [String] {
        switch kind {
        case .sgd: momentum != 0 ? ["momentum"] : []
        case .adam: ["momentum", "velocity"]
        }
    }

    /// Checks that every hyperparameter is usable.
    public func validate() throws {
        func fail(_ s: String) -> ConvNetError { .invalidTrainingConfiguration(reason: s) }
        guard learningRate.isFinite, learningRate > 0 else { throw fail("learning rate must be positive, found \(learningRate)") }
        guard momentum.isFinite, momentum >= 0, momentum < 1 else { throw fail("momentum must be in [0, 1), found \(momentum)") }
        guard beta1 >= 0, beta1 < 1, beta2 >= 0, beta2 < 1 else { throw fail("beta1 and beta2 must be in [0, 1)") }
        guard epsilon.isFinite, epsilon > 0 else { throw fail("epsilon must be positive, found \(epsilon)") }
        if nesterov && kind == .sgd && momentum == 0 { throw fail("nesterov needs a positive momentum") }
    }

    /// Applies one update to `count` parameters from their gradient; `slots` holds ``slotNames``.count buffers.
    func apply(step: Int, count: Int, weights w: FloatPointer, gradient g: UnsafePointer<Float>, slots: [FloatPointer]) {
        let lr = learningRate
        switch kind {
        case .sgd:
            if momentum == 0 {
                for i in 0..<count { w[i] -= lr * g[i] }
            } else {
                let m = slots[0], mu = momentum
                if nesterov {
                    for i in 0..<count {
                        m[i] = mu * m[i] - lr * g[i]
                        w[i] += mu * m[i] - lr * g[i]
                    }
                } else {
                    for i in 0..<count {
                        m[i] = mu * m[i] - lr * g[i]
                        w[i] += m[i]
                    }
                }
            }
        case .adam:
            let t = Float(step + 1)
            let alpha = lr * (1 - powf(beta2, t)).squareRoot() / (1 - powf(beta1, t))
            let m = slots[0], v = slots[1], c1 = 1 - beta1, c2 = 1 - beta2, eps = epsilon
            // Eight lanes at a time with the scalar tail's exact operations (lane-wise IEEE, no fusing).
            let c1v = SIMD8(repeating: c1), c2v = SIMD8(repeating: c2), alphaV = SIMD8(repeating: alpha), epsV = SIMD8(repeating: eps)
            var i = 0
            while i + 8 <= count {
                let gi = load8(g + i)
                let mi = load8(m + i) + (gi - load8(m + i)) * c1v
                let vi = load8(v + i) + (gi * gi - load8(v + i)) * c2v
                store8(mi, m + i)
                store8(vi, v + i)
                store8(load8(w + i) - (mi * alphaV) / (vi.squareRoot() + epsV), w + i)
                i += 8
            }
            while i < count {
                let gi = g[i]
                m[i] += (gi - m[i]) * c1
                v[i] += (gi * gi - v[i]) * c2
                w[i] -= (m[i] * alpha) / (v[i].squareRoot() + eps)
                i += 1
            }
        }
    }
}

/// Raw pixel input for a batch: `count` images of the network's input shape, as bytes or floats.
public enum PixelBatch: Sendable {
    case bytes([UInt8])
    case floats([Float])

    var scalarCount: Int {
        switch self {
        case let .bytes(b): b.count
        case let .floats(f): f.count
        }
    }
}

extension Network {
    /// Runs a batch of raw-pixel images (preprocessing applied by the model) and returns the outputs, one row
    /// of ``outputCount`` per image.
    ///
    /// - Parameters:
    ///   - pixels: N x H x W x C raw pixels.
    ///   - threads: workers to split the batch over; results do not depend on it.
    /// - Throws: ``ConvNetError/shapeMismatch(name:expected:found:)`` if the pixel count is not a multiple of the
    ///   input size.
    public func predict(_ pixels: PixelBatch, threads: Int = 1) throws -> [Float] {
        let n = pixels.scalarCount / max(inputCount, 1)
        guard n * inputCount == pixels.scalarCount else {
            throw ConvNetError.shapeMismatch(name: "input", expected: [-1] + shapes[0].dimensions, found: [pixels.scalarCount])
        }
        var output = [Float](repeating: 0, count: n * outputCount)
        let workers = max(1, min(threads, n))
        let outCount = outputCount, inCount = inputCount
        flatParameters.withUnsafeBufferPointer { w in
            output.withUnsafeMutableBufferPointer { out in
                let outBase = UncheckedSendable(out.baseAddress!)
                let wBase = UncheckedSendable(w.baseAddress!)
                // Chunks of 32 images, taken by whichever worker is free (each image's output is the same on any).
                let chunk = 32, chunks = (n + chunk - 1) / chunk
                let workspaces = (0..<workers).map { _ in Workspace(network: self) }
                runTasks(chunks, workers: workers) { worker, task in
                    let ws = workspaces[worker]
                    for i in (task * chunk)..<min(n, (task + 1) * chunk) {
                        switch pixels {
                        case let .bytes(b): b.withUnsafeBufferPointer { loadInput($0.baseAddress! + i * inCount, into: ws) }
                        case let .floats(f): f.withUnsafeBufferPointer { loadInput($0.baseAddress! + i * inCount, into: ws) }
                        }
                        forward(ws, parameters: wBase.value)
                        (outBase.value + i * outCount).update(from: ws.activations[operations.count], count: outCount)
                    }
                }
            }
        }
        return output
    }

    /// The activations after every layer for one raw-pixel image: entry 0 is the preprocessed input, entry
    /// `i + 1` the output of layer `i`. The verifier uses these to find the first layer that diverges.
    public func layerOutputs(_ pixels: [Float]) throws -> [[Float]] {
        guard pixels.count == inputCount else {
            throw ConvNetError.shapeMismatch(name: "input", expected: shapes[0].dimensions, found: [pixels.count])
        }
        let ws = Workspace(network: self)
        return flatParameters.withUnsafeBufferPointer { w in
            pixels.withUnsafeBufferPointer { loadInput($0.baseAddress!, into: ws) }
            forward(ws, parameters: w.baseAddress!)
            return zip(ws.activations, ws.activationCounts).map { Array(UnsafeBufferPointer(start: $0, count: $1)) }
        }
    }

    /// The argmax of each row of `outputs` (first maximum wins; NaN rows give the first NaN's index).
    public func labels(from outputs: [Float]) -> [Int] {
        Self.labels(from: outputs, outputCount: outputCount)
    }

    /// The argmax of each row of `outputCount` values of `outputs` (first maximum wins; NaN rows give the first
    /// NaN's index).
    public static func labels(from outputs: [Float], outputCount k: Int) -> [Int] {
        guard k > 0 else { return [] }
        return stride(from: 0, to: outputs.count, by: k).map { start in
            var best = start
            for i in start..<(start + k) where outputs[i] > outputs[best] || (outputs[i].isNaN && !outputs[best].isNaN) { best = i }
            return best - start
        }
    }

    /// The fraction of `data` classified correctly, and the count.
    public func accuracy(on data: Dataset, threads: Int = 1) throws -> Double {
        guard data.count > 0 else { return 0 }
        let predicted = labels(from: try predict(.bytes(data.images), threads: threads))
        let correct = zip(predicted, data.labels).reduce(0) { $0 + ($1.0 == Int($1.1) ? 1 : 0) }
        return Double(correct) / Double(data.count)
    }
}

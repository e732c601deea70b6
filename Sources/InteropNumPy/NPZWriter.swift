import ConvNet
import Foundation
import ModelArchive

/// Writes a model as npz (`Schemas/npz-mapping.md`), one member at a time: `__cnnkit__.npy` first, then each
/// parameter, each optimizer slot and the probes, each member written as its tensor is fetched and released
/// before the next (ZIPFoundation asks the member's bytes, the `.npy` header then the values, a chunk at a
/// time, and deflates them as they come with `compress`).
enum NPZWriter {
    /// Writes atomically (``AtomicFile``): checks the model before the file is created.
    ///
    /// - Parameter compress: deflate every member (as `numpy.savez_compressed`); stored otherwise (`numpy.savez`).
    /// - Throws: ``NumPyError/invalidWrite(reason:)`` when the model's tensors do not match its architecture;
    ///   ``ArchiveError`` when the file cannot be written; what fetching a tensor throws.
    static func write(_ model: StreamedModel, to path: String, compress: Bool) throws {
        let plan = try Plan(model)
        try AtomicFile.write(to: path) { temp in
            try plan.add(to: try NPZArchiveWriter.file(at: temp, for: path, compress: compress))
        }
    }

    /// The bytes ``write(_:to:compress:)`` writes, built in memory: deterministic for the same model.
    static func encode(_ model: StreamedModel, compress: Bool) throws -> [UInt8] {
        let plan = try Plan(model)
        let writer = try NPZArchiveWriter.inMemory(compress: compress)
        try plan.add(to: writer)
        return try writer.bytes()
    }

    /// The members to write, checked from names and shapes alone before anything is written.
    private struct Plan {
        let model: StreamedModel
        let metadataMember: [UInt8]

        init(_ model: StreamedModel) throws {
            self.model = model
            let meta = NPZLayout.Metadata(formatVersion: NPZLayout.formatVersion, architecture: model.architecture,
                                          trainingState: model.trainingState, probesSource: model.probes?.source, metadata: model.metadata)
            do {
                metadataMember = NumPyArray.encodedText(String(decoding: try ArchiveJSON.encoder().encode(meta), as: UTF8.self))
            } catch {
                throw NumPyError.invalidWrite(reason: "metadata cannot be encoded: \(error)")
            }
            // What we write must be a document we read.
            var shapes: [String: [Int]] = [:]
            var keys = model.parameters + model.slots
            if let probes = model.probes {
                keys += [TensorDescriptor(name: NPZLayout.probeInputs, shape: probes.inputs.shape),
                         TensorDescriptor(name: NPZLayout.probeOutputs, shape: probes.outputs.shape)]
            }
            for d in keys {
                guard d.name != NPZLayout.metadataKey, shapes.updateValue(d.shape, forKey: d.name) == nil else {
                    throw NumPyError.invalidWrite(reason: "tensor name '\(d.name)' is used twice or reserved")
                }
            }
            do {
                _ = try NPZModel.layout(shapes: shapes, architecture: model.architecture, state: model.trainingState, file: "(output)")
            } catch let NumPyError.document(_, member, reason) {
                throw NumPyError.invalidWrite(reason: member.map { "member \($0): \(reason)" } ?? reason)
            }
        }

        /// Adds every member, fetching one tensor at a time.
        func add(to writer: NPZArchiveWriter) throws {
            try writer.add(NPZLayout.member(NPZLayout.metadataKey), bytes: metadataMember)
            for d in model.parameters + model.slots {
                let tensor: Tensor
                do {
                    tensor = try model.fetch(d)
                } catch let error as ConvNetError {
                    throw NumPyError.invalidWrite(reason: "\(error)")
                }
                try Self.add(d.name, tensor, to: writer)
            }
            if let probes = model.probes {
                let whole = probes.inputs.scalars.allSatisfy { $0 >= 0 && $0 <= 255 && $0 == $0.rounded() && $0.sign == .plus }
                try Self.add(NPZLayout.probeInputs, probes.inputs, asBytes: whole, to: writer)
                try Self.add(NPZLayout.probeOutputs, probes.outputs, to: writer)
            }
        }

        /// One `.npy` member: the header, then the values as little-endian float32 (or bytes when `asBytes`),
        /// produced a chunk at a time from the tensor.
        private static func add(_ key: String, _ tensor: Tensor, asBytes: Bool = false, to writer: NPZArchiveWriter) throws {
            guard Tensor.elementCount(tensor.shape) == tensor.scalars.count else {
                throw NumPyError.invalidWrite(reason: "tensor \(key) has shape \(tensor.shape) but \(tensor.scalars.count) values")
            }
            if asBytes {
                try writer.add(NPZLayout.member(key), bytes: NumPyArray(shape: tensor.shape, values: tensor.scalars).encoded(asBytes: true))
                return
            }
            let header = NumPyArray.encodedHeader(shape: tensor.shape, asBytes: false)
            let size = header.count + tensor.scalars.count * 4
            try writer.add(NPZLayout.member(key), size: size) { start, count in
                let end = min(start + count, size)
                var chunk = Data(capacity: max(end - start, 0))
                if start < header.count { chunk.append(contentsOf: header[start..<min(end, header.count)]) }
                let from = max(start, header.count) - header.count, to = end - header.count
                if from < to {
                    #if _endian(little)
                    tensor.scalars.withUnsafeBytes { chunk.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[from..<to])) }
                    #else
                    for i in from..<to { chunk.append(UInt8(truncatingIfNeeded: tensor.scalars[i / 4].bitPattern.littleEndian >> (8 * UInt32(i % 4)))) }
                    #endif
                }
                return chunk
            }
        }
    }
}

import ConvNet
import Foundation
import ModelArchive

/// What CNNKit records in an export's `metadata_props` beside the graph (`Schemas/onnx.md` section 1), and
/// reads back: the architecture JSON (`cnnkit.architecture`), each metadata entry of the model under its own
/// key (among them `cnnkit.digests`, the SHA-256 of every tensor, the probes and the architecture, which
/// `verify` checks: ONNX itself has no checksums) and the probes (`cnnkit.probes`: float32 little-endian values,
/// base64, with their shapes and source).
enum ONNXRecord {
    /// The key of the probes.
    static let probesKey = "cnnkit.probes"

    /// The probes' JSON form.
    struct ProbeRecord: Codable {
        struct Values: Codable {
            var shape: [Int]
            var float32Base64: String
            enum CodingKeys: String, CodingKey { case shape, float32Base64 = "float32_base64" }
        }
        var source: String
        var inputs: Values
        var outputs: Values
    }

    /// The `metadata_props` entries of a model, in the order written: the architecture, the metadata sorted by
    /// key, the probes.
    static func entries(_ model: StreamedModel) throws -> [(key: String, value: String)] {
        var out: [(String, String)] = [(ONNXExport.architectureKey, try model.architecture.jsonString())]
        for (key, value) in model.metadata.sorted(by: { $0.key < $1.key }) where key != ONNXExport.architectureKey && key != probesKey {
            out.append((key, value))
        }
        if let probes = model.probes {
            func values(_ t: Tensor) -> ProbeRecord.Values {
                var bytes: [UInt8] = []
                bytes.reserveCapacity(t.scalars.count * 4)
                for v in t.scalars { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
                return .init(shape: t.shape, float32Base64: Data(bytes).base64EncodedString())
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let record = ProbeRecord(source: probes.source, inputs: values(probes.inputs), outputs: values(probes.outputs))
            out.append((probesKey, String(decoding: try encoder.encode(record), as: UTF8.self)))
        }
        return out
    }

    /// The probes of a `cnnkit.probes` entry, checked: valid base64 holding exactly the values the shapes need.
    ///
    /// - Throws: ``ONNXError/graph(file:node:reason:)`` naming the entry.
    static func probes(_ text: String, file: String) throws -> Probes {
        func refuse(_ reason: String) -> ONNXError { .graph(file: file, node: nil, reason: "metadata_props \(probesKey): \(reason)") }
        let record: ProbeRecord
        do {
            record = try JSONDecoder().decode(ProbeRecord.self, from: Data(text.utf8))
        } catch {
            throw refuse("not CNNKit's probe record: \(error)")
        }
        func tensor(_ values: ProbeRecord.Values, _ what: String) throws -> Tensor {
            guard let count = Tensor.elementCount(values.shape), count <= 1 << 26 else { throw refuse("\(what) shape \(values.shape) is invalid") }
            guard let data = Data(base64Encoded: values.float32Base64), data.count == count * 4 else {
                throw refuse("\(what) are not base64 float32 values for shape \(values.shape)")
            }
            let scalars = data.withUnsafeBytes { ONNXTensorData.decodeFloats($0, count: count) }
            return Tensor(shape: values.shape, scalars: scalars)
        }
        return Probes(inputs: try tensor(record.inputs, "inputs"), outputs: try tensor(record.outputs, "outputs"), source: record.source)
    }
}

import ConvNet
import Foundation
import ModelArchive

/// The JSON header (`Schemas/cnnz.md` section 4, `Schemas/cnnz-header.schema.json`).
///
/// Keys are snake_case and written sorted, with no insignificant whitespace, so the same model gives the same
/// bytes. Unknown keys are ignored on read (a newer minor version may add them).
struct CNNZHeader: Codable, Sendable {
    var architecture: Architecture
    /// The raw bytes per chunk (every chunk but a tensor's last holds exactly this many raw bytes).
    var chunkSize: Int
    var metadata: [String: String]
    var probes: ProbesEntry?
    var tensors: [TensorEntry]
    var trainingState: TrainingState?

    enum CodingKeys: String, CodingKey {
        case architecture, chunkSize = "chunk_size", metadata, probes, tensors, trainingState = "training_state"
    }

    /// `probes`: what the probe tensors are.
    struct ProbesEntry: Codable, Sendable, Hashable {
        var source: String
    }

    /// One element of `tensors` (section 4.2).
    struct TensorEntry: Codable, Sendable, Hashable {
        var name: String
        var role: String
        var dtype: String
        var codec: String
        var shape: [Int64]
        /// Present and true when the values were rounded to a narrower float dtype on writing.
        var lossy: Bool?
        var chunks: [ChunkEntry]
    }

    /// One element of a tensor's `chunks` (section 4.2).
    struct ChunkEntry: Codable, Sendable, Hashable {
        /// Absolute file offset of the stored bytes.
        var offset: UInt64
        /// The number of stored (encoded) bytes.
        var stored: UInt64
        /// CRC-32 of the stored bytes.
        var crc32: UInt32
    }

    /// The header as compact JSON with sorted keys.
    func encoded() throws -> [UInt8] {
        do {
            return Array(try ArchiveJSON.encoder().encode(self))
        } catch {
            throw CNNZError.invalidWrite(reason: "the header cannot be encoded as JSON: \(error)")
        }
    }

    /// Decodes a header after checking its text against every rule of section 4.5 (``StrictJSON``,
    /// ``HeaderRule/header``), turning failures into one-line reasons with the JSON path; `location` is the
    /// header's, and errors point at the offending value's byte.
    static func decode(_ bytes: [UInt8], location: CNNZLocation) throws -> CNNZHeader {
        func at(_ offset: Int) -> CNNZLocation {
            var l = location
            l.offset = (location.offset ?? 0) + UInt64(offset)
            return l
        }
        let root: StrictJSON.Node
        do {
            root = try StrictJSON.parse(bytes)
        } catch {
            throw CNNZError.malformedHeader(at(error.offset), reason: "invalid JSON: \(error.reason)")
        }
        do {
            try HeaderRule.header.check(root, at: "", in: bytes)
        } catch {
            throw CNNZError.malformedHeader(at(error.offset), reason: error.reason)
        }
        let header: CNNZHeader
        do {
            header = try ArchiveJSON.decoder().decode(CNNZHeader.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw CNNZError.malformedHeader(location, reason: error.summary { "invalid JSON\($0): \($1)" })
        } catch {
            throw CNNZError.malformedHeader(location, reason: "\(error)")
        }
        if let state = header.trainingState {
            // Section 4.5: a training state a trainer can resume from.
            guard state.rngState.contains(where: { $0 != 0 }) else {
                throw CNNZError.malformedHeader(location, reason: "at training_state.rng_state: the 4 words must not all be zero (xoshiro256** never leaves that state)")
            }
            do {
                try state.optimizer.validate()
            } catch {
                throw CNNZError.malformedHeader(location, reason: "at training_state.optimizer: \(error)")
            }
        }
        return header
    }
}

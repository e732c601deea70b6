import ConvNet
import Crypto
import Foundation

/// SHA-256 digests of every tensor a model file holds, of its training state and of its architecture,
/// recorded in the file's metadata when it is written and checked by `verify` before anything else
/// (`Schemas/digests.md`).
///
/// A tensor's digest is the SHA-256 of its values as a reader gets them, written as little-endian float32
/// (`numpy.asarray(values, dtype='<f4').tobytes()`): the stored bytes themselves for float32 tensors, and the
/// exact float32 widening of float16, bfloat16 and uint8 storage. So the digest can be recomputed from what
/// h5py, safetensors or numpy return, and it is the same in every format a tensor is converted to.
public struct TensorDigests: Sendable, Hashable, Codable {
    /// The metadata key under which files carry the digests, as JSON.
    public static let metadataKey = "cnnkit.digests"
    /// The only algorithm this version writes and checks.
    public static let algorithmName = "sha256"

    /// The hash algorithm (`sha256`).
    public var algorithm: String
    /// Parameters, optimizer slots and `probes.inputs` / `probes.outputs`, by name: lowercase hex.
    public var tensors: [String: String]
    /// The training state's scalars (its slots are ``tensors``) as ``ArchiveJSON`` encodes them.
    public var trainingState: String?
    /// The architecture as `ConvNet/Architecture/jsonString()` writes it.
    public var architecture: String

    enum CodingKeys: String, CodingKey {
        case algorithm, tensors, trainingState = "training_state", architecture
    }

    /// The digests of a model, fetching each tensor once (as `dtype` will store it).
    ///
    /// - Throws: what fetching a tensor throws.
    public static func compute(_ model: StreamedModel, dtype: StorageDType = .float32) throws -> TensorDigests {
        var tensors: [String: String] = [:]
        for d in model.parameters + model.slots {
            var t = try model.fetch(d)
            dtype.roundTrip(&t)
            tensors[d.name] = digest(t.scalars)
        }
        if let probes = model.probes {
            tensors[probeInputs] = digest(probes.inputs.scalars)
            tensors[probeOutputs] = digest(probes.outputs.scalars)
        }
        return TensorDigests(algorithm: algorithmName, tensors: tensors, trainingState: try model.trainingState.map(digest),
                             architecture: digest(model.architecture.jsonString()))
    }

    /// The names under which probe tensors are digested.
    public static let probeInputs = "probes.inputs"
    /// The name under which the probe outputs are digested.
    public static let probeOutputs = "probes.outputs"

    /// SHA-256 of float32 values as little-endian bytes, lowercase hex.
    public static func digest(_ values: [Float]) -> String {
        var hasher = SHA256()
        #if _endian(little)
        values.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        #else
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { hasher.update(bufferPointer: $0) } }
        #endif
        return hex(hasher.finalize())
    }

    /// SHA-256 of a training state's scalars (slots excluded), lowercase hex.
    public static func digest(_ state: TrainingState) throws -> String {
        var scalars = state
        scalars.slots = []
        return hex(SHA256.hash(data: try ArchiveJSON.encoder().encode(scalars)))
    }

    /// SHA-256 of UTF-8 text, lowercase hex.
    public static func digest(_ text: String) -> String {
        hex(SHA256.hash(data: Data(text.utf8)))
    }

    private static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { byte in
            let s = String(byte, radix: 16)
            return byte < 16 ? "0" + s : s
        }.joined()
    }

    /// The digests a file's metadata records: nil when it records none.
    ///
    /// - Throws: ``ArchiveError/invalid(path:location:reason:)`` when the entry is there but unreadable or of
    ///   an unknown algorithm (a damaged file must not pass as one without digests).
    public static func recorded(in metadata: [String: String], path: String) throws -> TensorDigests? {
        guard let text = metadata[metadataKey] else { return nil }
        let digests: TensorDigests
        do {
            digests = try ArchiveJSON.decoder().decode(TensorDigests.self, from: Data(text.utf8))
        } catch {
            throw ArchiveError.invalid(path: path, location: "metadata \(metadataKey)", reason: "not a digest record: \(error)")
        }
        guard digests.algorithm == algorithmName else {
            throw ArchiveError.invalid(path: path, location: "metadata \(metadataKey)", reason: "unknown digest algorithm '\(digests.algorithm)' (this build checks \(algorithmName))")
        }
        return digests
    }

    /// The record as compact JSON with sorted keys, for the metadata.
    public func jsonString() throws -> String {
        String(decoding: try ArchiveJSON.encoder().encode(self), as: UTF8.self)
    }
}

extension StreamedModel {
    /// The same model, each tensor checked against the digest `digests` records for it as it is fetched, and
    /// the probes, training state and architecture checked now.
    ///
    /// - Throws: ``ArchiveError/invalid(path:location:reason:)`` naming the first tensor (or part) whose
    ///   values do not match, now for the small parts and on fetch for the tensors.
    public func checkingDigests(_ digests: TensorDigests, path: String) throws -> StreamedModel {
        if let failure = try digests.mismatchOfSmallParts(self) {
            throw ArchiveError.invalid(path: path, location: failure.part, reason: failure.reason)
        }
        var checked = self
        let base = tensor
        checked.tensor = { name in
            let t = try base(name)
            if let failure = digests.mismatch(name: name, values: t.scalars) {
                throw ArchiveError.invalid(path: path, location: "tensor \(name)", reason: failure)
            }
            return t
        }
        return checked
    }
}

extension TensorDigests {
    /// Why a tensor's values do not match its recorded digest, or nil when they do.
    public func mismatch(name: String, values: [Float]) -> String? {
        guard let expected = tensors[name] else { return "no digest is recorded for it" }
        let found = Self.digest(values)
        return found == expected ? nil : "SHA-256 of its values is \(found), the file recorded \(expected) at save time (the values changed)"
    }

    /// The first of the probes, training state and architecture that does not match, or nil.
    public func mismatchOfSmallParts(_ model: StreamedModel) throws -> (part: String, reason: String)? {
        if let probes = model.probes {
            if let r = mismatch(name: Self.probeInputs, values: probes.inputs.scalars) { return ("tensor \(Self.probeInputs)", r) }
            if let r = mismatch(name: Self.probeOutputs, values: probes.outputs.scalars) { return ("tensor \(Self.probeOutputs)", r) }
        }
        let state = try model.trainingState.map(Self.digest)
        if state != trainingState {
            return ("training state", state == nil ? "the file records a digest for a training state it does not hold"
                : trainingState == nil ? "no digest is recorded for it" : "SHA-256 of its scalars is \(state ?? ""), the file recorded \(trainingState ?? "") at save time")
        }
        let architectureDigest = Self.digest(model.architecture.jsonString())
        if architectureDigest != architecture {
            return ("architecture", "SHA-256 of the architecture JSON is \(architectureDigest), the file recorded \(architecture) at save time")
        }
        return nil
    }
}

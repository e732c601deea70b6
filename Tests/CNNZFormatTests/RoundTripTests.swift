import ConvNet
import Foundation
import ModelArchive
import Testing
@testable @_spi(Fuzzing) import CNNZFormat

/// One writer configuration for the round-trip properties.
struct RoundTripCase: CustomTestStringConvertible, Sendable {
    var codec: CNNZCodec
    var dtype: CNNZDType
    var chunkSize: Int
    var testDescription: String { "\(codec.rawValue)/\(dtype.rawValue)/chunk \(chunkSize)" }

    static let all: [RoundTripCase] = CNNZCodec.allCases.flatMap { codec in
        CNNZDType.allCases.flatMap { dtype in [64, CNNZLayout.maxChunkSize].map { RoundTripCase(codec: codec, dtype: dtype, chunkSize: $0) } }
    }
}

@Suite("CNNZ round trips")
struct RoundTripTests {
    /// What reading gives back for a value stored as `dtype`.
    static func expected(_ v: Float, _ dtype: CNNZDType) -> Float {
        switch dtype {
        case .float16: FloatConversion.float(float16Bits: FloatConversion.float16Bits(v))
        case .bfloat16: FloatConversion.float(bfloat16Bits: FloatConversion.bfloat16Bits(v))
        default: v
        }
    }

    static func converted(_ tensor: Tensor, _ dtype: CNNZDType) -> Tensor {
        Tensor(shape: tensor.shape, scalars: tensor.scalars.map { expected($0, dtype) })
    }

    @Test("random documents round-trip bit for bit (lossy dtypes: to the converted value)", arguments: RoundTripCase.all)
    func randomDocuments(_ c: RoundTripCase) throws {
        for seed in UInt64(1)...4 {
            var generator = DocumentGenerator(seed: seed &* 7919 &+ UInt64(c.dtype.size))
            let document = generator.document(integers: c.dtype.isInteger ? c.dtype : nil)
            let options = CNNZWriteOptions(codec: c.codec, level: Int(seed % 10), dtype: c.dtype, chunkSize: c.chunkSize)
            let bytes = try CNNZModel.encode(document, options: options)
            let back = try CNNZModel.read(bytes: bytes, name: "mem")
            var want = document
            want.tensors = document.tensors.map { NamedTensor(name: $0.name, tensor: Self.converted($0.tensor, c.dtype)) }
            want.trainingState?.slots = document.trainingState?.slots.map { NamedTensor(name: $0.name, tensor: Self.converted($0.tensor, c.dtype)) } ?? []
            if c.dtype.isLossyForFloat32 {
                let names = document.tensors.map(\.name) + (document.trainingState?.slots.map(\.name) ?? [])
                if !names.isEmpty { want.metadata["cnnz.lossy"] = names.map { "\($0):\(c.dtype.rawValue)" }.joined(separator: ",") }
            }
            #expect(back == want, "seed \(seed)")
            // Same model and options, same bytes.
            #expect(try CNNZModel.encode(document, options: options) == bytes)
        }
    }

    @Test("every special value survives float32, float64 and every codec", arguments: CNNZCodec.allCases, [CNNZDType.float32, .float64])
    func specialValues(_ codec: CNNZCodec, _ dtype: CNNZDType) throws {
        var document = tinyDocument()
        let values = CNNZFormatTests.specialValues + (0..<300).map { Float(bitPattern: 0x7F80_0000 | UInt32($0 * 27_961 + 1)) }
        document.tensors.append(NamedTensor(name: "extra.values", tensor: Tensor(shape: [values.count], scalars: values)))
        let bytes = try CNNZModel.encode(document, options: CNNZWriteOptions(codec: codec, dtype: dtype, chunkSize: 128))
        let back = try CNNZModel.read(bytes: bytes, name: "mem", options: .container)
        #expect(back == document)
    }

    @Test("float16 and bfloat16 stay within half an ulp", arguments: [CNNZDType.float16, .bfloat16])
    func lossyBound(_ dtype: CNNZDType) throws {
        var rng = RandomGenerator(seed: 42)
        let values = (0..<5000).map { _ in (Float(rng.nextGaussian()) * 0.2) }
        let document = ModelDocument(architecture: .seed, tensors: [NamedTensor(name: "w", tensor: Tensor(shape: [values.count], scalars: values))])
        let back = try CNNZModel.read(bytes: CNNZModel.encode(document, options: CNNZWriteOptions(dtype: dtype)), name: "mem", options: .container)
        let read = try #require(back.tensors.first).tensor.scalars
        for (a, b) in zip(values, read) {
            let bound = max(Double(abs(a)) * dtype.relativeRoundingBound, dtype == .float16 ? 0x1p-25 : 0)
            #expect(abs(Double(a) - Double(b)) <= bound, "\(a) -> \(b)")
        }
        #expect(back.metadata["cnnz.lossy"] == "w:\(dtype.rawValue)")
    }

    @Test("a tensor larger than one chunk, through a file, with every codec", arguments: CNNZCodec.allCases)
    func multiChunkFile(_ codec: CNNZCodec) throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var rng = RandomGenerator(seed: 3)
        let values = (0..<300_000).map { _ in Float(rng.nextGaussian()) * 0.05 }
        let document = ModelDocument(architecture: .seed, tensors: [NamedTensor(name: "big", tensor: Tensor(shape: [600, 500], scalars: values)),
                                                                      NamedTensor(name: "small", tensor: Tensor(shape: [3], scalars: [1, 2, 3]))])
        let path = folder + "/m.cnnz"
        try CNNZModel.write(document, to: path, options: CNNZWriteOptions(codec: codec))
        let reader = try CNNZReader(path: path, options: .container)
        #expect(reader.tensors[0].chunks.count == 2)
        #expect(reader.tensors[0].rawBytes == 1_200_000)
        if codec == .raw { #expect(reader.tensors.allSatisfy { $0.dataOffset % 64 == 0 }) }
        #expect(try reader.readTensor(named: "small") == document.tensors[1].tensor)
        #expect(try reader.readDocument() == document)
        #expect(try CNNZModel.read(path: path, options: .container) == document)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: path))) == CNNZModel.encode(document, options: CNNZWriteOptions(codec: codec)))
    }

    @Test("integer dtypes refuse values they cannot hold exactly", arguments: [CNNZDType.uint8, .int32, .int64])
    func integerRefusal(_ dtype: CNNZDType) throws {
        for bad: Float in [0.5, -0.0, .nan, .infinity, dtype == .uint8 ? 256 : 0x1p63] {
            let document = ModelDocument(architecture: .seed, tensors: [NamedTensor(name: "w", tensor: Tensor(shape: [2], scalars: [1, bad]))])
            let error = #expect(throws: CNNZError.self) { try CNNZModel.encode(document, options: CNNZWriteOptions(dtype: dtype)) }
            guard case let .notRepresentable(tensor, d, index, value)? = error else {
                Issue.record("unexpected \(String(describing: error))")
                continue
            }
            #expect(tensor == "w" && d == dtype && index == 1 && value.bitPattern == bad.bitPattern)
        }
    }

    @Test("probe inputs are stored as uint8 when whole, probe outputs stay float32 under a lossy dtype")
    func probeDTypes() throws {
        let bytes = try CNNZModel.encode(tinyDocument(), options: CNNZWriteOptions(dtype: .bfloat16))
        let reader = try CNNZReader(bytes: bytes, name: "mem")
        #expect(reader.tensors.first { $0.role == .probeInputs }?.dtype == .uint8)
        #expect(reader.tensors.first { $0.role == .probeOutputs }?.dtype == .float32)
        #expect(reader.tensors.first { $0.role == .optimizerSlot }?.dtype == .bfloat16)
        #expect(try reader.readDocument().probes == tinyDocument().probes)
    }
}

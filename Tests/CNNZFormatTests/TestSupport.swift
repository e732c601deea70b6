import ConvNet
import Foundation
import ModelArchive
import Testing
@testable @_spi(Fuzzing) import CNNZFormat

/// Special float32 values every round trip must carry bit for bit.
let specialValues: [Float] = [
    0, -0.0, 1, -1, .infinity, -.infinity, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
    .leastNormalMagnitude, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, Float(bitPattern: 0x007F_FFFF),
    Float(bitPattern: 0x7FC0_0000), Float(bitPattern: 0x7FC0_0001), Float(bitPattern: 0xFFC1_2345),
    Float(bitPattern: 0x7F80_0001), Float(bitPattern: 0xFFBF_FFFF), 65504, 65520, 1e-8, 6.1e-5, 3.14159,
]

/// A small seeded generator of documents for property tests.
struct DocumentGenerator {
    var rng: RandomGenerator

    init(seed: UInt64) { rng = RandomGenerator(seed: seed) }

    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(rng.next(below: UInt64(range.count)))
    }

    mutating func bool() -> Bool { rng.next(below: 2) == 1 }

    /// A random valid architecture: convolutions and pools, flatten, dense layers, maybe softmax.
    mutating func architecture() -> Architecture {
        while true {
            var kinds: [LayerKind] = []
            for _ in 0..<int(0...2) {
                kinds.append(.conv2d(Conv2DSpec(filters: int(1...3), kernel: [int(1...3), int(1...3)], stride: [int(1...2), int(1...2)],
                                                padding: bool() ? .valid : .same, bias: bool())))
                if bool() { kinds.append(.relu) }
                if bool() { kinds.append(.maxPool2d(MaxPool2DSpec(pool: [2, 2]))) }
            }
            kinds.append(.flatten)
            for _ in 0..<int(1...2) { kinds.append(.dense(DenseSpec(units: int(1...5), bias: bool()))) }
            if bool() { kinds.append(.softmax) }
            let arch = Architecture(input: ActivationShape(height: int(3...7), width: int(3...7), channels: int(1...2)),
                                    preprocessing: Preprocessing(scale: Float(int(1...1000)) / 997, offset: -Float(int(0...9)) / 7),
                                    kinds: kinds)
            if (try? arch.validate()) != nil { return arch }
        }
    }

    /// A value: a special one a quarter of the time, else a weight-like float.
    mutating func value(integers: CNNZDType? = nil) -> Float {
        switch integers {
        case .uint8?: return Float(int(0...255))
        case .int32?: return Float(int(-2_000_000_000...2_000_000_000)).rounded(.towardZero)
        case .int64?: return Float(int(-(1 << 50)...(1 << 50)))
        default: break
        }
        if rng.next(below: 4) == 0 { return specialValues[Int(rng.next(below: UInt64(specialValues.count)))] }
        return Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
    }

    mutating func tensor(_ shape: [Int], integers: CNNZDType? = nil) -> Tensor {
        let n = shape.reduce(1, *)
        var scalars: [Float] = []
        for _ in 0..<n { scalars.append(value(integers: integers)) }
        return Tensor(shape: shape, scalars: scalars)
    }

    /// A random document: parameters for `architecture`, maybe a training state with slots, maybe probes.
    mutating func document(integers: CNNZDType? = nil) -> ModelDocument {
        let arch = architecture()
        let specs = (try? arch.parameterSpecs()) ?? []
        let tensors = specs.map { NamedTensor(name: $0.name, tensor: tensor($0.shape, integers: integers)) }
        var state: TrainingState?
        if bool() {
            let optimizer = bool() ? OptimizerConfig(kind: .adam, learningRate: 0.001) : OptimizerConfig(kind: .sgd, learningRate: 0.01, momentum: 0.9, nesterov: bool())
            var slots: [NamedTensor] = []
            for spec in specs {
                for slot in optimizer.slotNames {
                    slots.append(NamedTensor(name: TrainingState.slotName(parameter: spec.name, slot: slot), tensor: tensor(spec.shape, integers: integers)))
                }
            }
            state = TrainingState(epoch: int(0...9), step: int(0...100_000), position: int(0...999), batchSize: int(1...64),
                                  optimizer: optimizer, slots: slots, rngState: [rng.next(), rng.next(), rng.next(), rng.next()],
                                  seed: rng.next(), history: (0..<int(0...3)).map { _ in EpochRecord(loss: Double(int(0...1000)) / 999, trainAccuracy: 0.5, testAccuracy: bool() ? 0.25 : nil) },
                                  dataset: bool() ? DatasetIdentity(name: "fashion-mnist", trainCount: 60000, fingerprint: "0123456789abcdef") : nil,
                                  epochLossSum: Double(int(0...100)) / 3, epochCorrect: int(0...50))
        }
        var probes: Probes?
        if bool() {
            let n = int(1...3)
            let shape = [n, arch.input.height, arch.input.width, arch.input.channels]
            let inputs = bool() ? tensor(shape, integers: .uint8) : tensor(shape)
            let outputs = (try? arch.outputShape().count) ?? 1
            probes = Probes(inputs: inputs, outputs: tensor([n, outputs]), source: "random:seed=\(int(0...99))")
        }
        var metadata: [String: String] = [:]
        for i in 0..<int(0...3) { metadata["key\(i)"] = "value \(int(0...1000)) ü/\"\\" }
        return ModelDocument(architecture: arch, tensors: tensors, trainingState: state, probes: probes, metadata: metadata)
    }
}

/// A tiny fixed document (a 4x4x1 input, conv 2 filters 2x2, flatten, dense 3) with a training state and probes.
/// A small model with every kind of part (biases, a training state with slots, probes, metadata).
///
/// Its probe outputs are what the network computes on the probe inputs, so that `cnnkit verify` passes on the
/// fixtures made from it. With a lossy `dtype`, the metadata records the tolerance the file guarantees on the
/// probes as `ModelFiles.save` does (`cnnkit.tolerance.atol` = twice the largest output error the rounding
/// causes, `cnnkit.tolerance.rtol` = 0, `cnnkit.lossy_dtype`).
func tinyDocument(lossy dtype: CNNZDType? = nil) -> ModelDocument {
    let arch = Architecture(input: ActivationShape(height: 4, width: 4, channels: 1),
                            kinds: [.conv2d(Conv2DSpec(filters: 2, kernel: [2, 2], bias: true)), .maxPool2d(MaxPool2DSpec()), .flatten, .dense(DenseSpec(units: 3)), .softmax])
    let specs = (try? arch.parameterSpecs()) ?? []
    var counter: Float = 0
    let tensors = specs.map { spec -> NamedTensor in
        let n = spec.shape.reduce(1, *)
        let scalars = (0..<n).map { i -> Float in counter += 1; return (counter * 0.37).truncatingRemainder(dividingBy: 1) - 0.5 + Float(i % 2) * 0.01 }
        return NamedTensor(name: spec.name, tensor: Tensor(shape: spec.shape, scalars: scalars))
    }
    let optimizer = OptimizerConfig(kind: .sgd, learningRate: 0.005, momentum: 0.9)
    let slots = specs.map { NamedTensor(name: TrainingState.slotName(parameter: $0.name, slot: "momentum"), tensor: Tensor(zeros: $0.shape)) }
    let state = TrainingState(epoch: 1, step: 10, position: 0, batchSize: 2, optimizer: optimizer, slots: slots,
                              rngState: [1, 2, 3, 4], seed: 7, history: [EpochRecord(loss: 0.5, trainAccuracy: 0.75, testAccuracy: 0.5)])
    let inputs = Tensor(shape: [1, 4, 4, 1], scalars: (0..<16).map { Float($0 * 16) })
    func outputs(_ parameters: [NamedTensor]) -> [Float] {
        // The architecture and shapes are fixed above: building and running the network cannot fail.
        (try? Network(architecture: arch, parameters: parameters).predict(.floats(inputs.scalars))) ?? []
    }
    let exact = outputs(tensors)
    let probes = Probes(inputs: inputs, outputs: Tensor(shape: [1, 3], scalars: exact), source: "fixture")
    var metadata = ["made_by": "CNNZFormatTests"]
    if let dtype {
        let rounded = tensors.map { named -> NamedTensor in
            var tensor = named.tensor
            try? dtype.roundTrip(&tensor, name: named.name)
            return NamedTensor(name: named.name, tensor: tensor)
        }
        let error = zip(outputs(rounded), exact).map { abs(Double($0) - Double($1)) }.max() ?? 0
        metadata["cnnkit.tolerance.atol"] = String(max(2 * error, Double(Float.leastNormalMagnitude)))
        metadata["cnnkit.tolerance.rtol"] = "0"
        metadata["cnnkit.lossy_dtype"] = dtype.rawValue
    }
    return ModelDocument(architecture: arch, tensors: tensors, trainingState: state, probes: probes, metadata: metadata)
}

/// The parts of a file, to build broken files by hand: the data between preamble and header, and the header
/// as a JSON object. ``assemble()`` recomputes every CRC but the chunks'.
struct FileParts {
    var major: UInt8 = 1
    var minor: UInt8 = 0
    var data: [UInt8]
    var header: [String: Any]

    init(_ bytes: [UInt8]) throws {
        let n = bytes.count
        let offset = Int(bytes[(n - 32)..<(n - 24)].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        data = Array(bytes[16..<offset])
        let json = try JSONSerialization.jsonObject(with: Data(bytes[offset..<(n - 32)]))
        header = json as? [String: Any] ?? [:]
    }

    /// The tensors array.
    var tensors: [[String: Any]] {
        get { header["tensors"] as? [[String: Any]] ?? [] }
        set { header["tensors"] = newValue }
    }

    func assemble(headerJSON: [UInt8]? = nil) throws -> [UInt8] {
        let json = try headerJSON ?? Array(JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        var out = CNNZLayout.preamble(major: Int(major), minor: Int(minor)) + data
        let headerOffset = UInt64(out.count)
        out += json
        out += CNNZLayout.footer(headerOffset: headerOffset, headerLength: UInt64(json.count), headerCRC: CRC32.checksum(json))
        return out
    }
}

extension CNNZReadOptions {
    /// The reader as a plain tensor container (``checksModel`` off): the codec, layout and error tests store
    /// arbitrary tensors under a placeholder architecture.
    static var container: CNNZReadOptions { CNNZReadOptions().asContainer }

    /// These options with ``checksModel`` off.
    var asContainer: CNNZReadOptions {
        var options = self
        options.checksModel = false
        return options
    }
}

/// Asserts that reading `bytes` (as a plain container, so that reader rules are reached on any tensors) throws a ``CNNZError`` of category `.invalidInput` matching `matches`.
func expectReadError(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation, _ matches: (CNNZError) -> Bool) {
    do {
        let document = try CNNZModel.read(bytes: bytes, name: "test.cnnz", options: .container)
        Issue.record("expected an error, read \(document.tensors.count) tensors", sourceLocation: sourceLocation)
    } catch let error as CNNZError {
        #expect(error.category == .invalidInput, "\(error)", sourceLocation: sourceLocation)
        #expect(matches(error), "unexpected error: \(error)", sourceLocation: sourceLocation)
        #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
    } catch {
        Issue.record("not a CNNZError: \(error)", sourceLocation: sourceLocation)
    }
}

/// A scratch folder removed by the caller.
func temporaryFolder() throws -> String {
    var template = Array("/tmp/cnnz-tests-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    try #require(made != nil)
    return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The repository's `Fixtures/cnnz` folder.
let fixturesFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures/cnnz").path

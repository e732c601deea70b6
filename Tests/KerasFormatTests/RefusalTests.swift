import ConvNet
import Foundation
import HDF5Format
import ModelArchive
import Testing
@testable import KerasFormat

/// One test per refusal, each with a hand-made file.
@Suite(".keras refusals")
struct ArchiveRefusalTests {
    static func validMembers() throws -> [(name: String, bytes: [UInt8])] {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("seed.keras")
        try KerasArchive.write(try TestSupport.seedDocument(seed: 1), to: url.path)
        return try TestSupport.readZip(url)
    }

    /// Writes `members` as a zip and returns the error reading it throws.
    static func refusal<E: Error>(_ members: [(name: String, bytes: [UInt8])], as type: E.Type = KerasArchiveError.self) throws -> (path: String, error: E) {
        let directory = try TestSupport.temporaryDirectory()
        let url = directory.appendingPathComponent("hand-made.keras")
        try TestSupport.writeZip(members, to: url)
        let error = try #require(throws: E.self) { try KerasArchive.read(path: url.path) }
        return (url.path, error)
    }

    @Test("missing config.json", arguments: ["config.json", "model.weights.h5"])
    func missingMember(_ name: String) throws {
        let members = try Self.validMembers().filter { $0.name != name }
        let (path, error) = try Self.refusal(members)
        #expect(error == .invalid(file: path, member: name, reason: "missing: a .keras archive holds metadata.json, config.json and model.weights.h5; found \(members.map(\.name).sorted())"))
        #expect(error.category == .invalidInput)
    }

    @Test("Keras' npz weights format is unsupported")
    func npzWeights() throws {
        let members = try Self.validMembers().map { $0.name == "model.weights.h5" ? (name: "model.weights.npz", bytes: $0.bytes) : $0 }
        let (_, error) = try Self.refusal(members)
        guard case let .unsupported(_, member, _) = error else { Issue.record("expected unsupported, got \(error)"); return }
        #expect(member == "model.weights.npz")
    }

    @Test("an unsupported layer in config.json names the layer and its class")
    func unsupportedLayer() throws {
        let config = #"{"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 4, 4, 1], "name": "input_layer"}}, {"class_name": "LSTM", "config": {"name": "lstm", "units": 3}}]}}"#
        let members = try Self.validMembers().map { $0.name == "config.json" ? (name: $0.name, bytes: Array(config.utf8)) : $0 }
        let (path, error) = try Self.refusal(members, as: HDF5Error.self)
        #expect(error == .unsupported(file: path, location: "config.json", reason: "layer 'lstm' of class LSTM (CNNKit supports InputLayer, Rescaling, Conv2D, ReLU, Activation, MaxPooling2D, Flatten, Dense, Softmax)"))
    }

    @Test("config.json that is not JSON")
    func configNotJSON() throws {
        let members = try Self.validMembers().map { $0.name == "config.json" ? (name: $0.name, bytes: Array("{not json".utf8)) : $0 }
        let (path, error) = try Self.refusal(members, as: HDF5Error.self)
        #expect(error == .invalid(file: path, location: "config.json", reason: "model_config is not a JSON object"))
    }

    @Test("metadata.json that is not a JSON object")
    func metadataNotJSON() throws {
        let members = try Self.validMembers().map { $0.name == "metadata.json" ? (name: $0.name, bytes: Array("[1, 2]".utf8)) : $0 }
        let (path, error) = try Self.refusal(members)
        #expect(error == .invalid(file: path, member: "metadata.json", reason: "not a JSON object"))
    }

    @Test("a corrupt model.weights.h5 names the member and the failed HDF5 call")
    func corruptWeights() throws {
        let garbage: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 0xA5, count: 600)
        let members = try Self.validMembers().map { $0.name == "model.weights.h5" ? (name: $0.name, bytes: garbage) : $0 }
        let (path, error) = try Self.refusal(members, as: HDF5Error.self)
        guard case let .callFailed(file, _, call, _, writing) = error else { Issue.record("expected callFailed, got \(error)"); return }
        #expect(file == "\(path):model.weights.h5" && call == "H5Fopen" && !writing)
        #expect((error as any ModelFileError).category == .invalidInput)
    }

    @Test("a model.weights.h5 in the legacy full-model layout is not the Keras 3 weights layout")
    func legacyWeights() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let legacy = directory.appendingPathComponent("legacy.h5")
        try HDF5Model.write(try TestSupport.seedDocument(seed: 1), to: legacy.path)
        let bytes = [UInt8](try Data(contentsOf: legacy))
        let members = try Self.validMembers().map { $0.name == "model.weights.h5" ? (name: $0.name, bytes: bytes) : $0 }
        let (path, error) = try Self.refusal(members, as: HDF5Error.self)
        #expect(error == .invalid(file: "\(path):model.weights.h5", location: "/", reason: "not the Keras 3 weights layout (expected a /layers group and no /model_weights)"))
    }

    @Test("Keras weights that do not fit config.json name the layer and both shapes")
    func weightsDoNotFitConfig() throws {
        let other = try TestSupport.readZip(TestSupport.kerasFixtures.appendingPathComponent("keras3_two_conv_adam.keras"))
        let weights = try #require(other.first { $0.name == "model.weights.h5" })
        // Keras' weights (no /cnnkit) of the two-conv model under the seed model's config.
        let members = try Self.validMembers().map { $0.name == "model.weights.h5" ? weights : $0 }
        let (path, error) = try Self.refusal(members, as: HDF5Error.self)
        #expect(error == .invalid(file: "\(path):model.weights.h5", location: "/layers/conv2d/vars",
                                  reason: "layer conv2d has 1 parameter(s) (conv2d.kernel), the file holds 2"))
    }

    @Test("a member listed twice")
    func duplicateMember() throws {
        let members = try Self.validMembers()
        let (path, error) = try Self.refusal(members + [members[1]])
        #expect(error == .invalid(file: path, member: "config.json", reason: "member listed twice"))
    }

    @Test("a flipped byte in a stored member fails its CRC-32")
    func crcMismatch() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("seed.keras")
        try KerasArchive.write(try TestSupport.seedDocument(seed: 1), to: url.path)
        var bytes = [UInt8](try Data(contentsOf: url))
        let marker = Array("\"Sequential\"".utf8)
        let offset = try #require((0..<(bytes.count - marker.count)).first { Array(bytes[$0..<($0 + marker.count)]) == marker })
        bytes[offset + 1] ^= 0x20 // "sequential": still JSON, but not the bytes the CRC covers
        try Data(bytes).write(to: url)
        let error = try #require(throws: KerasArchiveError.self) { try KerasArchive.read(path: url.path) }
        guard case let .invalid(_, member, reason) = error else { Issue.record("expected invalid, got \(error)"); return }
        #expect(member == "config.json" && reason.hasPrefix("CRC-32 mismatch"))
    }

    @Test("bytes that are not a zip, and a zip cut short", arguments: [0, 1])
    func notAZip(_ variant: Int) throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("broken.keras")
        if variant == 0 {
            try Data(Array("PK\u{3}\u{4} this is not really a zip archive at all".utf8)).write(to: url)
        } else {
            try KerasArchive.write(try TestSupport.seedDocument(seed: 1), to: url.path)
            let bytes = try Data(contentsOf: url)
            try bytes.prefix(bytes.count / 2).write(to: url)
        }
        let error = try #require(throws: KerasArchiveError.self) { try KerasArchive.read(path: url.path) }
        guard case let .invalid(file, member, reason) = error else { Issue.record("expected invalid, got \(error)"); return }
        #expect(file == url.path && member == nil && reason.hasPrefix("not a readable zip archive"))
    }

    @Test("a missing file")
    func missingFile() throws {
        let error = try #require(throws: KerasArchiveError.self) { try KerasArchive.read(path: "/nonexistent/model.keras") }
        #expect(error.category == .missingInput)
    }
}

@Suite(".weights.h5 refusals")
struct WeightsRefusalTests {
    static let fixture = TestSupport.kerasFixtures.appendingPathComponent("keras3_two_conv_adam.weights.h5").path

    static func twoConv(secondKernel: [Int] = [3, 2], secondBias: Bool = false) -> Architecture {
        Architecture(input: ActivationShape(height: 11, width: 10, channels: 3), preprocessing: Preprocessing(scale: 1.0 / 255.0, offset: 0), kinds: [
            .conv2d(Conv2DSpec(filters: 4, kernel: [3, 3], stride: [2, 2], padding: .same, bias: true)), .relu,
            .conv2d(Conv2DSpec(filters: 5, kernel: secondKernel, stride: [1, 1], padding: .same, bias: secondBias)), .relu,
            .maxPool2d(MaxPool2DSpec(pool: [3, 3], stride: [2, 2], padding: .same)), .flatten, .dense(DenseSpec(units: 7, bias: true)), .softmax,
        ])
    }

    @Test("the architecture's two-conv model reads Keras' file")
    func fits() throws {
        let document = try HDF5Model.readKerasWeights(path: Self.fixture, architecture: Self.twoConv())
        #expect(document.tensors.count == 5)
    }

    @Test("a kernel shape that does not match names the layer, the dataset and both shapes")
    func shapeMismatch() throws {
        let error = try #require(throws: HDF5Error.self) { try HDF5Model.readKerasWeights(path: Self.fixture, architecture: Self.twoConv(secondKernel: [3, 3])) }
        #expect(error == .invalid(file: Self.fixture, location: "/layers/conv2d_1/vars/0",
                                  reason: "layer conv2d_1 kernel: the architecture needs shape [3, 3, 4, 5], the file holds [3, 2, 4, 5]"))
        #expect(error.description == "\(Self.fixture): at /layers/conv2d_1/vars/0: layer conv2d_1 kernel: the architecture needs shape [3, 3, 4, 5], the file holds [3, 2, 4, 5]")
    }

    @Test("a bias the file lacks")
    func parameterCount() throws {
        let error = try #require(throws: HDF5Error.self) { try HDF5Model.readKerasWeights(path: Self.fixture, architecture: Self.twoConv(secondBias: true)) }
        #expect(error == .invalid(file: Self.fixture, location: "/layers/conv2d_1/vars",
                                  reason: "layer conv2d_1 has 2 parameter(s) (conv2d_1.kernel, conv2d_1.bias), the file holds 1"))
    }

    static let oneByOne = Conv2DSpec(filters: 4, kernel: [1, 1])
    static let twoConvs = Architecture(input: ActivationShape(height: 2, width: 2, channels: 4), kinds: [.conv2d(oneByOne), .conv2d(oneByOne), .flatten, .dense(DenseSpec(units: 3))])
    static let oneConv = Architecture(input: ActivationShape(height: 2, width: 2, channels: 4), kinds: [.conv2d(oneByOne), .flatten, .dense(DenseSpec(units: 3))])

    static func write(_ architecture: Architecture, to directory: URL) throws -> String {
        var rng = RandomGenerator(seed: 9)
        var network = try Network(architecture: architecture)
        network.initialize(using: &rng)
        let path = directory.appendingPathComponent("m.weights.h5").path
        try HDF5Model.writeKerasWeights(ModelDocument(network: network), to: path)
        return path
    }

    @Test("variables for a layer the architecture lacks")
    func extraLayer() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = try Self.write(Self.twoConvs, to: directory)
        let error = try #require(throws: HDF5Error.self) { try HDF5Model.readKerasWeights(path: path, architecture: Self.oneConv) }
        #expect(error == .invalid(file: path, location: "/layers/conv2d_1/vars",
                                  reason: "the file holds 1 variable(s) for a Keras layer the architecture does not have (it has 2 layer(s) with weights: conv2d, dense)"))
    }

    @Test("a layer whose group is missing")
    func missingLayer() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = try Self.write(Self.oneConv, to: directory)
        let error = try #require(throws: HDF5Error.self) { try HDF5Model.readKerasWeights(path: path, architecture: Self.twoConvs) }
        #expect(error == .invalid(file: path, location: "/layers/conv2d_1", reason: "missing: layer conv2d_1 (conv2d) needs its weights here"))
    }

    @Test("a legacy full-model .h5 is not the weights layout")
    func legacy() throws {
        let error = try #require(throws: HDF5Error.self) {
            try HDF5Model.readKerasWeights(path: TestSupport.kerasFixtures.appendingPathComponent("seed_sgd_momentum.h5").path, architecture: .seed)
        }
        guard case let .invalid(_, location, reason) = error else { Issue.record("expected invalid, got \(error)"); return }
        #expect(location == "/" && reason.hasPrefix("not the Keras 3 weights layout"))
    }

    @Test("Keras' folder format: config.json beside model.weights.h5 gives the architecture")
    func siblingConfig() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let members = try TestSupport.readZip(TestSupport.kerasFixtures.appendingPathComponent("keras3_two_conv_adam.keras"))
        for member in members { try Data(member.bytes).write(to: directory.appendingPathComponent(member.name)) }
        let document = try HDF5Model.read(path: directory.appendingPathComponent("model.weights.h5").path)
        #expect(document.tensors.count == 5)
    }
}

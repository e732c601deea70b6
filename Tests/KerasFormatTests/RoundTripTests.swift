import ConvNet
import Foundation
import HDF5Format
import ModelArchive
import Testing
@testable import KerasFormat

@Suite("Keras 3 round trips")
struct RoundTripTests {
    @Test(".keras: random documents round-trip bitwise (weights, architecture, state with slots, probes, metadata)", arguments: Array(UInt64(1)...UInt64(8)))
    func kerasRoundTrip(seed: UInt64) throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let document = try TestSupport.document(seed: seed)
        let path = directory.appendingPathComponent("model.keras").path
        let compression: HDF5Compression = seed % 3 == 0 ? .deflate(level: Int(seed % 10)) : .none
        try KerasArchive.write(document, to: path, options: HDF5WriteOptions(compression: compression))
        let read = try KerasArchive.read(path: path)
        #expect(read.architecture == document.architecture)
        #expect(read.tensors == document.tensors)
        #expect(read.trainingState == document.trainingState)
        #expect(read.probes == document.probes)
        #expect(read.metadata == document.metadata)
    }

    @Test(".weights.h5: random documents round-trip bitwise through the file's own architecture", arguments: Array(UInt64(1)...UInt64(8)))
    func weightsRoundTrip(seed: UInt64) throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let document = try TestSupport.document(seed: seed)
        let path = directory.appendingPathComponent("model.weights.h5").path
        try HDF5Model.writeKerasWeights(document, to: path)
        #expect(try HDF5Model.readKerasWeights(path: path, architecture: nil) == document)
        // HDF5Model.read recognises the layout by its groups, and an equal architecture keeps the extras.
        #expect(try HDF5Model.read(path: path, architecture: document.architecture) == document)
    }

    @Test(".weights.h5 read with another, compatible architecture gives the weights only")
    func otherArchitecture() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let document = try TestSupport.document(seed: 3)
        let path = directory.appendingPathComponent("m.weights.h5").path
        try HDF5Model.writeKerasWeights(document, to: path)
        var renamed = document.architecture
        renamed.preprocessing = Preprocessing(scale: 1, offset: 0)
        let read = try HDF5Model.readKerasWeights(path: path, architecture: renamed)
        #expect(read.architecture == renamed)
        #expect(read.tensors == document.tensors)
        #expect(read.trainingState == nil && read.probes == nil && read.metadata.isEmpty)
    }

    @Test("a seed document without state, probes or metadata round-trips through both")
    func minimal() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let document = try TestSupport.seedDocument(seed: 11)
        let keras = directory.appendingPathComponent("seed.keras").path
        let weights = directory.appendingPathComponent("seed.weights.h5").path
        try KerasArchive.write(document, to: keras)
        try HDF5Model.writeKerasWeights(document, to: weights)
        #expect(try KerasArchive.read(path: keras) == document)
        #expect(try HDF5Model.readKerasWeights(path: weights, architecture: .seed) == document)
    }

    @Test("the same document gives the same bytes, stored members with a fixed date in Keras' order")
    func deterministic() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let document = try TestSupport.document(seed: 5)
        let a = directory.appendingPathComponent("a.keras"), b = directory.appendingPathComponent("b.keras")
        try KerasArchive.write(document, to: a.path)
        try KerasArchive.write(document, to: b.path)
        #expect(try Data(contentsOf: a) == Data(contentsOf: b))
        let wa = directory.appendingPathComponent("a.weights.h5"), wb = directory.appendingPathComponent("b.weights.h5")
        try HDF5Model.writeKerasWeights(document, to: wa.path)
        try HDF5Model.writeKerasWeights(document, to: wb.path)
        #expect(try Data(contentsOf: wa) == Data(contentsOf: wb))

        let members = try TestSupport.readZip(a)
        #expect(members.map(\.name) == ["metadata.json", "config.json", "model.weights.h5"])
        #expect(String(decoding: members[0].bytes, as: UTF8.self) == #"{"keras_version": "3.15.1", "date_saved": "1980-01-01@00:00:00"}"#)
        let archive = try ZIPFoundationArchive.open(a)
        for entry in archive { #expect(!entry.isCompressed) }
    }

    @Test("config.json carries module, registered_name, build_config and compile_config as Keras writes them")
    func configShape() throws {
        let document = try TestSupport.document(seed: 2)
        let json = KerasConfigFile.json(for: document)
        let root = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(root["module"] as? String == "keras")
        #expect(root["class_name"] as? String == "Sequential")
        #expect((root["build_config"] as? [String: Any])?["input_shape"] != nil)
        let compile = try #require(root["compile_config"] as? [String: Any])
        #expect((compile["optimizer"] as? [String: Any])?["module"] as? String == "keras.optimizers")
        let layers = try #require((root["config"] as? [String: Any])?["layers"] as? [[String: Any]])
        for layer in layers {
            #expect(layer["module"] as? String == "keras.layers")
            let built = ["Rescaling", "Conv2D", "Flatten", "Dense"].contains(layer["class_name"] as? String ?? "")
            #expect((layer["build_config"] != nil) == built)
        }
        let reread = try KerasConfigFile.read(json: json, file: "test", location: "config.json")
        #expect(reread.optimizer?.kind == document.trainingState?.optimizer.kind)
        #expect(reread.optimizer?.learningRate == document.trainingState?.optimizer.learningRate)
    }
}

import CHDF5
import ConvNet
import Foundation
import HDF5Format
import ModelArchive
import Testing
@testable import KerasFormat

/// One test per refusal, each with a file made by hand: a valid file of ours edited with libhdf5 calls.
@Suite("HDF5 refusals")
struct HDF5ModelRefusalTests {
    static let kernel = "/model_weights/dense/sequential/dense/kernel"

    /// Writes a small valid model to a fresh folder and returns the folder and the file path.
    static func validFile() throws -> (URL, String) {
        let directory = try TestSupport.temporaryDirectory()
        var rng = RandomGenerator(seed: 3)
        let architecture = Architecture(input: ActivationShape(height: 6, width: 6, channels: 1), kinds: [
            .conv2d(Conv2DSpec(filters: 2, bias: true)), .maxPool2d(MaxPool2DSpec()), .flatten, .dense(DenseSpec(units: 3)), .softmax,
        ])
        var network = try Network(architecture: architecture)
        network.initialize(using: &rng)
        let trainer = try Trainer(network: network, state: TrainingState(batchSize: 4, optimizer: OptimizerConfig(kind: .adam),
                                                                         rngState: RandomGenerator(seed: 1).state, seed: 1))
        let inputs = Probes.randomInputs(shape: architecture.input, count: 2)
        let probes = try Probes.record(network: network, inputs: inputs, source: "random:seed=0")
        let path = directory.appendingPathComponent("model.h5").path
        try HDF5Model.write(ModelDocument(network: network, trainingState: trainer.state, probes: probes), to: path)
        return (directory, path)
    }

    /// Opens `path` read-write and runs `edit` on the file, under the library lock.
    static func edit(_ path: String, _ edit: (hid_t) throws -> Void) throws {
        try HDF5Library.serialized {
            let id = H5Fopen(path, cnnkit_H5F_ACC_RDWR(), h5Default)
            try #require(id >= 0)
            let file = HDF5Handle(id, kind: .file)
            try withExtendedLifetime(file) { try edit(file.id) }
        }
    }

    /// Replaces `target` with a float32 dataset of `dims` made with the given dataset creation property list.
    static func replace(_ file: hid_t, _ target: String, dims: [hsize_t], dcpl: hid_t, write: Bool = false) throws {
        try #require(H5Ldelete(file, target, h5Default) >= 0)
        let space = HDF5Handle(H5Screate_simple(Int32(dims.count), dims, nil), kind: .dataspace)
        let id = H5Dcreate2(file, target, cnnkit_H5T_IEEE_F32LE(), space.id, h5Default, dcpl, h5Default)
        try #require(id >= 0)
        let dataset = HDF5Handle(id, kind: .dataset)
        if write {
            let zeros = [Float](repeating: 0, count: Int(dims.reduce(1, *)))
            try #require(H5Dwrite(dataset.id, cnnkit_H5T_NATIVE_FLOAT(), cnnkit_H5S_ALL(), cnnkit_H5S_ALL(), h5Default, zeros) >= 0)
        }
    }

    /// Reads `path` and returns the error, which must be an ``HDF5Error``.
    static func failure(_ path: String) throws -> HDF5Error {
        try #require(throws: HDF5Error.self) { try HDF5Model.read(path: path) }
    }

    @Test("a soft link is refused, naming its path")
    func softLink() throws {
        let (directory, path) = try Self.validFile()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.edit(path) { file in
            try #require(H5Lmove(file, "/model_weights/dense", file, "/elsewhere", h5Default, h5Default) >= 0)
            try #require(H5Lcreate_soft("/elsewhere", file, "/model_weights/dense", h5Default, h5Default) >= 0)
        }
        let error = try Self.failure(path)
        #expect(error == .refused(file: path, location: "/model_weights/dense", reason: "soft link (CNNKit follows only hard links)"))
        #expect(error.description.hasPrefix("\(path): at /model_weights/dense: refused: soft link"))
    }

    @Test("an external link is refused")
    func externalLink() throws {
        let (directory, path) = try Self.validFile()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.edit(path) { file in
            try #require(H5Ldelete(file, "/cnnkit/probes", h5Default) >= 0)
            try #require(H5Lcreate_external("/etc/other.h5", "/probes", file, "/cnnkit/probes", h5Default, h5Default) >= 0)
        }
        let error = try Self.failure(path)
        guard case let .refused(_, location, reason) = error else { Issue.record("expected refused, got \(error)"); return }
        #expect(location == "/cnnkit/probes" && reason.contains("external link"))
        #expect(error.category == .invalidInput)
    }

    @Test("an external dataset (raw data in another file) is refused")
    func externalDataset() throws {
        let (directory, path) = try Self.validFile()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.edit(path) { file in
            let dcpl = HDF5Handle(H5Pcreate(cnnkit_H5P_DATASET_CREATE()), kind: .propertyList)
            try #require(H5Pset_external(dcpl.id, "raw.bin", 0, hsize_t(8 * 3 * 4)) >= 0)
            try Self.replace(file, Self.kernel, dims: [8, 3], dcpl: dcpl.id)
        }
        let error = try Self.failure(path)
        guard case let .refused(_, location, reason) = error else { Issue.record("expected refused, got \(error)"); return }
        #expect(location == Self.kernel && reason.contains("external dataset"))
    }

    @Test("a virtual dataset is refused")
    func virtualDataset() throws {
        let (directory, path) = try Self.validFile()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.edit(path) { file in
            let dims: [hsize_t] = [8, 3]
            let space = HDF5Handle(H5Screate_simple(2, dims, nil), kind: .dataspace)
            let dcpl = HDF5Handle(H5Pcreate(cnnkit_H5P_DATASET_CREATE()), kind: .propertyList)
            try #require(H5Pset_virtual(dcpl.id, space.id, ".", "/cnnkit/probes/outputs", space.id) >= 0)
            try Self.replace(file, Self.kernel, dims: dims, dcpl: dcpl.id)
        }
        let error = try Self.failure(path)
        guard case let .refused(_, location, reason) = error else { Issue.record("expected refused, got \(error)"); return }
        #expect(location == Self.kernel && reason.contains("virtual dataset"))
    }

    @Test("a dataspace far larger than the stored bytes is refused before allocating", arguments: [
        ([hsize_t(1 << 24), 6, 6, 1], true), ([hsize_t(1 << 40), 6, 6, 1], true), ([hsize_t(50_000), 6, 6, 1], false),
    ])
    func oversizedDataspace(dims: [hsize_t], chunked: Bool) throws {
        let (directory, path) = try Self.validFile()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.edit(path) { file in
            let dcpl = HDF5Handle(H5Pcreate(cnnkit_H5P_DATASET_CREATE()), kind: .propertyList)
            if chunked {
                let chunk: [hsize_t] = [1, 6, 6, 1]
                try #require(H5Pset_chunk(dcpl.id, 4, chunk) >= 0)
            } else {
                try #require(H5Pset_alloc_time(dcpl.id, H5D_ALLOC_TIME_LATE) >= 0)
            }
            try Self.replace(file, "/cnnkit/probes/inputs", dims: dims, dcpl: dcpl.id)
        }
        let error = try Self.failure(path)
        guard case let .refused(_, location, _) = error else { Issue.record("expected refused, got \(error)"); return }
        #expect(location == "/cnnkit/probes/inputs")
    }

    @Test("a dataset of the wrong shape names the path, expected and found")
    func wrongShape() throws {
        let (directory, path) = try Self.validFile()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.edit(path) { file in
            try Self.replace(file, Self.kernel, dims: [7, 3], dcpl: h5Default, write: true)
        }
        #expect(try Self.failure(path) == .invalid(file: path, location: Self.kernel, reason: "expected shape [8, 3], found [7, 3]"))
    }

    @Test("an integer dataset where floats belong is invalid")
    func integerKernel() throws {
        let (directory, path) = try Self.validFile()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.edit(path) { file in
            try #require(H5Ldelete(file, Self.kernel, h5Default) >= 0)
            let dims: [hsize_t] = [8, 3]
            let space = HDF5Handle(H5Screate_simple(2, dims, nil), kind: .dataspace)
            let dataset = HDF5Handle(H5Dcreate2(file, Self.kernel, cnnkit_H5T_STD_I32LE(), space.id, h5Default, h5Default, h5Default), kind: .dataset)
            let values = [Int32](repeating: 1, count: 24)
            try #require(H5Dwrite(dataset.id, cnnkit_H5T_NATIVE_INT32(), cnnkit_H5S_ALL(), cnnkit_H5S_ALL(), h5Default, values) >= 0)
        }
        let error = try Self.failure(path)
        #expect(error == .invalid(file: path, location: Self.kernel, reason: "expected a floating-point dataset, found integer"))
    }

    @Test("a missing required path is invalid, naming it")
    func missingPath() throws {
        let (directory, path) = try Self.validFile()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.edit(path) { file in try #require(H5Ldelete(file, "/optimizer_weights", h5Default) >= 0) }
        #expect(try Self.failure(path) == .invalid(file: path, location: "/optimizer_weights", reason: "missing (required by the layout)"))
    }

    @Test("an unknown /cnnkit format version is unsupported")
    func futureVersion() throws {
        let (directory, path) = try Self.validFile()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.edit(path) { file in
            let group = HDF5Handle(H5Gopen2(file, "/cnnkit", h5Default), kind: .group)
            try #require(H5Adelete(group.id, "format_version") >= 0)
            let sink = HDF5Sink(check: HDF5Checker(file: path, writing: true), compression: .none)
            try sink.setInt64(group, "format_version", 99, path: "/cnnkit")
        }
        let error = try Self.failure(path)
        guard case let .unsupported(_, location, reason) = error else { Issue.record("expected unsupported, got \(error)"); return }
        #expect(location == "/cnnkit@format_version" && reason.contains("99"))
    }

    @Test("a file that is not HDF5 fails in H5Fopen with HDF5's reason, as invalid input")
    func notHDF5() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("text.h5").path
        try Data("hello, this is not HDF5\n".utf8).write(to: URL(fileURLWithPath: path))
        let error = try Self.failure(path)
        guard case let .callFailed(_, location, call, stack, writing) = error else { Issue.record("expected callFailed, got \(error)"); return }
        #expect(location == "/" && call == "H5Fopen" && !writing && !stack.isEmpty)
        #expect(error.category == .invalidInput)
        #expect(!error.description.contains("\n"))
    }

    @Test("a missing file is missingFile (exit 66)")
    func missingFile() throws {
        let error = try Self.failure("/nonexistent/model.h5")
        #expect(error.category == .missingInput)
    }

    @Test("a truncated file is an error, not a crash")
    func truncated() throws {
        let (directory, path) = try Self.validFile()
        defer { try? FileManager.default.removeItem(at: directory) }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        for length in [0, 8, 512, bytes.count / 2, bytes.count - 1] {
            try bytes.prefix(length).write(to: URL(fileURLWithPath: path))
            let error = try Self.failure(path)
            #expect(error.category == .invalidInput)
        }
    }
}

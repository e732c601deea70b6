import CHDF5
import ConvNet
import Foundation
import HDF5Format
import ModelArchive
import Testing
@testable import KerasFormat

@Suite("HDF5 writer")
struct HDF5ModelWriterTests {
    @Test("deflate writes chunked datasets with shuffle, deflate and fletcher32; default is contiguous without filters")
    func compressionFilters() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let document = try TestSupport.document(seed: 4)
        for (name, compression, layout, filters) in [("plain.h5", HDF5Compression.none, H5D_CONTIGUOUS, Int32(0)),
                                                      ("deflate.h5", .deflate(level: 9), H5D_CHUNKED, 3)] {
            let path = directory.appendingPathComponent(name).path
            try HDF5Model.write(document, to: path, options: HDF5WriteOptions(compression: compression))
            let kernelPath = "/model_weights/\(document.architecture.layers[0].name)/sequential/\(document.architecture.layers[0].name)/kernel"
            try HDF5Library.serialized {
                let fileID = H5Fopen(path, cnnkit_H5F_ACC_RDONLY(), h5Default)
                try #require(fileID >= 0)
                let file = HDF5Handle(fileID, kind: .file)
                let datasetID = H5Dopen2(file.id, kernelPath, h5Default)
                try #require(datasetID >= 0)
                let dataset = HDF5Handle(datasetID, kind: .dataset, in: file)
                let dcpl = HDF5Handle(H5Dget_create_plist(dataset.id), kind: .propertyList)
                #expect(H5Pget_layout(dcpl.id) == layout)
                #expect(H5Pget_nfilters(dcpl.id) == filters)
            }
            #expect(try HDF5Model.read(path: path) == document)
        }
    }

    @Test("a document that does not fit the layout is refused before any file is created, and an existing file is untouched")
    func invalidDocumentLeavesNothing() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("model.h5").path
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: path))
        var document = try TestSupport.document(seed: 2)
        document.tensors.removeLast()
        let error = try #require(throws: HDF5Error.self) { try HDF5Model.write(document, to: path) }
        #expect(error.category == .unsupported)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep me")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["model.h5"])
    }

    @Test("writing into a missing folder fails without leaving anything")
    func missingFolder() throws {
        let document = try TestSupport.document(seed: 2)
        #expect(throws: (any Error).self) { try HDF5Model.write(document, to: "/nonexistent-cnnkit-folder/model.h5") }
    }

    @Test("the Keras model config is Python-style JSON with Rescaling first and softmax folded into Dense")
    func modelConfig() throws {
        let json = KerasModelConfig.modelConfig(.seed).serialized()
        #expect(json.hasPrefix(#"{"class_name": "Sequential", "config": {"name": "sequential""#))
        #expect(json.contains(#""scale": 0.003921568859368563, "offset": -0.5"#))
        #expect(json.contains(#""units": 10, "activation": "softmax""#))
        #expect(!json.contains(#""class_name": "Softmax""#))
        #expect(KerasModelConfig.plan(.seed).map(\.name) == ["rescaling", "conv2d", "max_pooling2d", "flatten", "dense"])
    }
}

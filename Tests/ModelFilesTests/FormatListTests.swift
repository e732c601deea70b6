import CNNZFormat
import HDF5Format
import KerasFormat
import InteropNumPy
import InteropONNX
import InteropSafetensors
import ModelArchive
import ModelFiles
import Testing

/// Detection and naming over the list of formats (moved here from the archive module's tests when the
/// format list moved to ModelFiles).
@Suite("Format list")
struct FormatListTests {
    static let zip: [UInt8] = [0x50, 0x4B, 0x03, 0x04]
    static let samples: [([UInt8], ModelFormat)] = [
        (HDF5FileFormat.magic + [0, 0, 0, 0], "hdf5"),
        (CNNZLayout.magic + [1, 0, 0, 0], "cnnz"),
        (zip + Array("....metadata.json....".utf8), "keras"),
        (zip + Array("....weights.npy....".utf8), "npz"),
        ([5, 0, 0, 0, 0, 0, 0, 0] + Array("{\"a\":1}".utf8), "safetensors"),
        // A torch zip: the first local header (30 bytes) names NAME/data.pkl; a Keras or npz zip's does not.
        (zip + [UInt8](repeating: 0, count: 22) + [12, 0, 0, 0] + Array("best/data.pkl".utf8).prefix(12) + Array("....".utf8), "npz"),
        (zip + [UInt8](repeating: 0, count: 22) + [13, 0, 0, 0] + Array("best/data.pkl....".utf8), "pt"),
        (zip + [UInt8](repeating: 0, count: 22) + [13, 0, 0, 0] + Array("metadata.json....".utf8), "keras"),
        ([0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E], "pt"),
    ]

    @Test("formats are detected from their bytes", arguments: samples)
    func detect(bytes: [UInt8], format: ModelFormat) {
        #expect(ModelFiles.detect(prefix: bytes)?.format == format)
    }

    @Test("unknown bytes are not a format")
    func unknown() {
        #expect(ModelFiles.detect(prefix: Array("hello, world".utf8)) == nil)
        #expect(ModelFiles.detect(prefix: []) == nil)
    }

    @Test("extensions suggest formats")
    func extensions() {
        #expect(ModelFiles.formatFromExtension(of: "a/b.H5")?.format == "hdf5")
        #expect(ModelFiles.formatFromExtension(of: "m.weights.h5")?.format == "hdf5")
        #expect(ModelFiles.formatFromExtension(of: "m.cnnz")?.format == "cnnz")
        #expect(ModelFiles.formatFromExtension(of: "m.onnx")?.format == "onnx")
        #expect(ModelFiles.formatFromExtension(of: "m.pt")?.format == "pt")
        #expect(ModelFiles.formatFromExtension(of: "m.PTH")?.format == "pt")
        #expect(ModelFiles.formatFromExtension(of: "model") == nil)
    }

}

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
        #expect(ModelFiles.formatFromExtension(of: "model") == nil)
    }

}

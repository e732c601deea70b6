import ConvNet
import Foundation
import ModelArchive
import Testing
@testable import InteropPyTorch

/// Runs a hand-made pickle through the machine; every storage it names exists with `count` elements.
private func run(_ body: [UInt8], limits: PickleLimits = .init()) throws -> [(key: String, tensor: PickledTensor)] {
    var machine = PickleMachine(bytes: [0x80, 0x02] + body, file: "t.pt", member: "x/data.pkl", limits: limits) { _, _, _ in }
    return try machine.stateDict()
}

private func reason(_ body: [UInt8], limits: PickleLimits = .init()) -> String {
    do {
        _ = try run(body, limits: limits)
        return "accepted"
    } catch {
        return "\(error)"
    }
}

private func text(_ s: String) -> [UInt8] {
    let utf8 = Array(s.utf8)
    return [0x58] + withUnsafeBytes(of: UInt32(utf8.count).littleEndian, Array.init) + utf8
}

private func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }

/// `{key: _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())}`, storage `'0'` of `count` floats.
private func stateDict(key: String = "0.weight", count: Int = 6, offset: UInt8 = 0, size: [UInt8] = [2, 3], stride: [UInt8] = [3, 1]) -> [UInt8] {
    var p = global("collections", "OrderedDict") + [0x29, 0x52, 0x28] + text(key) + global("torch._utils", "_rebuild_tensor_v2") + [0x28, 0x28]
    p += text("storage") + global("torch", "FloatStorage") + text("0") + text("cpu") + [0x4B, UInt8(count), 0x74, 0x51, 0x4B, offset]
    p += [0x28] + size.flatMap { [0x4B, $0] } + [0x74, 0x28] + stride.flatMap { [0x4B, $0] } + [0x74]
    p += [0x89] + global("collections", "OrderedDict") + [0x29, 0x52, 0x74, 0x52, 0x75, 0x2E]
    return p
}

@Suite("PyTorch pickle machine: a state dict, and each refusal")
struct PickleMachineTests {
    @Test("a hand-made state dict is read")
    func reads() throws {
        let entries = try run(stateDict())
        #expect(entries.count == 1)
        #expect(entries[0].key == "0.weight")
        #expect(entries[0].tensor == PickledTensor(storageKey: "0", dtype: .float32, storageCount: 6, offset: 0, shape: [2, 3], strides: [3, 1]))
        #expect(entries[0].tensor.isContiguous)
    }

    @Test("what PickleWriter writes, the machine reads back")
    func writerRoundTrip() throws {
        let written = (0..<1200).map { (key: "\($0).weight", storage: String($0), shape: $0 % 3 == 0 ? [2, 3, 1, 1] : [$0 % 7 + 1]) }
        var machine = PickleMachine(bytes: PickleWriter.stateDict(written), file: "t.pt", member: "x/data.pkl") { _, _, _ in }
        let read = try machine.stateDict()
        #expect(read.map(\.key) == written.map(\.key))
        #expect(read.map(\.tensor.shape) == written.map(\.shape))
        #expect(read.allSatisfy { $0.tensor.isContiguous && $0.tensor.offset == 0 && $0.tensor.count == $0.tensor.storageCount })
    }

    @Test("globals other than the state dict's are refused by name", arguments: [
        ("os", "system"), ("builtins", "eval"), ("subprocess", "Popen"), ("posix", "system"), ("torch", "load"), ("collections", "defaultdict"),
    ])
    func refusedGlobal(module: String, name: String) {
        #expect(reason(global(module, name) + [0x29, 0x52, 0x2E]).contains("at byte 2: global \(module).\(name) is refused"))
        // STACK_GLOBAL too, at its own offset.
        let stacked = text(module) + text(name)
        #expect(reason(stacked + [0x93, 0x2E]).contains("at byte \(2 + stacked.count): global \(module).\(name) is refused"))
    }

    @Test("opcodes a state dict does not need are refused by name")
    func refusedOpcodes() {
        #expect(reason([0x81]).contains("opcode NEWOBJ (0x81) is not one a state dict needs"))
        #expect(reason([0x69]).contains("opcode INST (0x69)"))
        #expect(reason([0x6F]).contains("opcode OBJ (0x6f)"))
        #expect(reason([0x50]).contains("opcode PERSID (0x50)"))
        #expect(reason([0xFF]).contains("unknown opcode 0xff"))
    }

    @Test("each limit is named")
    func limits() {
        var small = PickleLimits()
        small.maxOpcodes = 10
        #expect(reason(Array(repeating: 0x4E, count: 20), limits: small).contains("the opcode count goes over the limit of 10"))
        #expect(reason([0x4E] + (0..<100_001).flatMap { [0x72] + withUnsafeBytes(of: UInt32($0).littleEndian, Array.init) })
            .contains("the memo size goes over the limit of 100000"))
        #expect(reason(Array(repeating: 0x28, count: 101)).contains("the nesting depth (open MARKs) goes over the limit of 100"))
        #expect(reason([0x29] + Array(repeating: 0x85, count: 100_000)).contains("the nesting depth goes over the limit of 100"))
        // Lists nested through APPEND: each new list holds the previous one.
        #expect(reason([0x5D] + Array(repeating: [0x5D, 0x68, 0x00, 0x61, 0x71, 0x00], count: 200).flatMap { $0 }, limits: .init())
            .contains("memo entry 0 was never stored"))
        var list: [UInt8] = [0x5D, 0x71, 0x00]
        for _ in 0..<200 { list += [0x5D, 0x68, 0x00, 0x61, 0x71, 0x00] }
        #expect(reason(list).contains("the nesting depth goes over the limit of 100"))
        #expect(reason(Array(repeating: 0x4E, count: 10_001)).contains("the stack size goes over the limit of 10000"))
        small = PickleLimits()
        small.maxBytes = 8
        #expect(reason(Array(repeating: 0x4E, count: 20), limits: small).contains("the pickle's size (22 bytes) goes over the limit of 8"))
    }

    @Test("malformed pickles are refused with the offset")
    func malformed() {
        #expect(reason([0x4E]).contains("the pickle ends without STOP"))
        #expect(reason([0x68, 0x05]).contains("at byte 2: memo entry 5 was never stored"))
        #expect(reason([0x58, 0xFF, 0xFF, 0xFF, 0x7F]).contains("needs 2147483647 bytes, 0 remain"))
        #expect(reason([0x8A, 9] + Array(repeating: 0, count: 9)).contains("LONG1 of 9 bytes does not fit 64 bits"))
        #expect(reason([0x8C, 2, 0xC3, 0x28, 0x2E]).contains("is not UTF-8"))
        #expect(reason([0x4E, 0x4E, 0x52, 0x2E]).contains("REDUCE calls None, not an allowed global"))
        #expect(reason(global("torch", "FloatStorage") + [0x29, 0x52, 0x2E]).contains("torch.FloatStorage is called"))
        #expect(reason([0x5D, 0x7D, 0x62, 0x2E]).contains("BUILD on a list"))
        #expect(reason([0x4E, 0x51, 0x2E]).contains("a persistent id ('storage', torch.<Type>Storage, key, location, element count) expected, found None"))
        #expect(reason([0x4E, 0x4E, 0x2E]).contains("STOP with 2 values on the stack"))
        #expect(reason([0x5D, 0x2E]).contains("the pickle holds a list, not a state dict"))
        #expect(reason([0x80, 0x09]).contains("pickle protocol 9"))
    }

    @Test("a view past its storage is refused, naming the storage")
    func viewPastStorage() {
        #expect(reason(stateDict(count: 5)).contains("member data/0: a tensor of size [2, 3], stride [3, 1] and storage offset 0 reaches element 5, but the storage holds 5 elements of float32"))
        #expect(reason(stateDict(offset: 1)).contains("storage offset 1 reaches element 6"))
        #expect(reason(stateDict(size: [2, 3], stride: [3])).contains("a tensor has size [2, 3] but stride [3]"))
        let strided = try? run(stateDict(count: 6, size: [3, 2], stride: [1, 3]))
        #expect(strided?.first?.tensor.isContiguous == false)
    }

    @Test("the storage check runs on every persistent id")
    func storageCheck() {
        var machine = PickleMachine(bytes: [0x80, 0x02] + stateDict(), file: "t.pt", member: "x/data.pkl") { key, dtype, count in
            throw PyTorchError.storage(file: "t.pt", member: "x/data/\(key)", reason: "checked \(dtype.rawValue) x \(count)")
        }
        #expect(throws: PyTorchError.storage(file: "t.pt", member: "x/data/0", reason: "checked float32 x 6")) { try machine.stateDict() }
    }

    @Test("a value that is not a tensor is refused by its key")
    func notATensor() {
        let p = global("collections", "OrderedDict") + [0x29, 0x52] + text("epoch") + [0x4B, 3, 0x73, 0x2E]
        #expect(reason(p) == "t.pt: key epoch: holds an int, not a tensor")
    }
}

@Suite("PyTorch mapping: layouts and inference")
struct PyTorchMappingTests {
    @Test("conv kernels [out, in, kh, kw] -> [kh, kw, in, out], element by element")
    func convPermutation() {
        let shape = [3, 2, 2, 4]
        let torchValues = (0..<48).map(Float.init)
        let ours = ParameterTransform.convKernel.toCNNKit(torchValues, nchwShape: shape)
        for o in 0..<3 { for i in 0..<2 { for y in 0..<2 { for x in 0..<4 {
            #expect(ours[((y * 4 + x) * 2 + i) * 3 + o] == torchValues[((o * 2 + i) * 2 + y) * 4 + x])
        } } } }
        #expect(ParameterTransform.convKernel.toNCHW(ours, nchwShape: shape) == torchValues)
    }

    @Test("the first Linear after a Flatten: rows from C,H,W order to H,W,C order")
    func flattenPermutation() throws {
        // Input 2 x 3 x 2 (h, w, c) flattened into one output unit; each weight picks one input.
        let architecture = Architecture(input: ActivationShape(height: 2, width: 3, channels: 2), preprocessing: Preprocessing(scale: 1, offset: 0),
                                        kinds: [.flatten, .dense(DenseSpec(units: 12, bias: false))])
        let layout = try PyTorchMapping.sequentialLayout(of: architecture)
        #expect(layout.map(\.key) == ["1.weight"])
        #expect(layout[0].torchShape == [12, 12])
        // Torch row o is one-hot at PyTorch's flat index o = c*6 + h*3 + w.
        var torchWeight = [Float](repeating: 0, count: 144)
        for o in 0..<12 { torchWeight[o * 12 + o] = 1 }
        let kernel = layout[0].transform.toCNNKit(torchWeight, nchwShape: [12, 12])
        let network = try Network(architecture: architecture, parameters: [NamedTensor(name: "dense.kernel", tensor: Tensor(shape: [12, 12], scalars: kernel))])
        let image = (0..<12).map(Float.init) // ours: index (h*3 + w)*2 + c
        let out = try network.predict(.floats(image))
        for c in 0..<2 { for h in 0..<2 { for w in 0..<3 {
            #expect(out[c * 6 + h * 3 + w] == image[(h * 3 + w) * 2 + c])
        } } }
        #expect(layout[0].transform.toNCHW(kernel, nchwShape: [12, 12]) == torchWeight)
    }

    @Test("an nn.Sequential state dict is inferred, and what is ambiguous is named")
    func inference() throws {
        let entries = [TensorDescriptor(name: "0.weight", shape: [4, 1, 3, 3]), TensorDescriptor(name: "0.bias", shape: [4]),
                       TensorDescriptor(name: "3.weight", shape: [6, 4, 3, 3]), TensorDescriptor(name: "7.weight", shape: [16, 150]),
                       TensorDescriptor(name: "7.bias", shape: [16]), TensorDescriptor(name: "9.weight", shape: [10, 16])]
        let mapping = try PyTorchMapping.infer(entries, file: "t.pt")
        #expect(mapping.architecture.input == ActivationShape(height: 26, width: 26, channels: 1))
        #expect(mapping.architecture.layers.map(\.kind.typeName) == ["conv2d", "relu", "maxpool2d", "conv2d", "relu", "maxpool2d", "flatten", "dense", "relu", "dense", "softmax"])
        #expect(mapping.parameters.map(\.key) == ["0.weight", "0.bias", "3.weight", "7.weight", "7.bias", "9.weight"])
        #expect(mapping.inferred?.contains("input 26x26x1") == true)

        func refusal(_ entries: [TensorDescriptor]) -> String {
            do { _ = try PyTorchMapping.infer(entries, file: "t.pt"); return "accepted" } catch { return "\(error)" }
        }
        let ambiguous = refusal([TensorDescriptor(name: "0.weight", shape: [2, 1, 3, 3]), TensorDescriptor(name: "2.weight", shape: [2, 2, 3, 3]),
                                 TensorDescriptor(name: "4.weight", shape: [3, 32])])
        #expect(ambiguous.contains("index 1 (between 0.weight and 2.weight) can be ReLU or MaxPool2d(2)"))
        #expect(ambiguous.contains("--architecture"))
        #expect(refusal([TensorDescriptor(name: "features.0.weight", shape: [2, 1, 3, 3])]).contains("key features.0.weight is not nn.Sequential-style"))
        #expect(refusal([TensorDescriptor(name: "0.weight", shape: [3, 4])]).contains("the first module (0.weight [3, 4]) is a Linear"))
        #expect(refusal([TensorDescriptor(name: "0.weight", shape: [2, 1, 3, 3]), TensorDescriptor(name: "2.weight", shape: [3, 30])])
            .contains("in_features 30 = 2 channels x 15, not a square map"))
        #expect(refusal([TensorDescriptor(name: "0.weight", shape: [2, 1, 3, 3]), TensorDescriptor(name: "1.running_mean", shape: [2])])
            .contains("key 1.running_mean: is not a weight or bias"))
    }

    @Test("a given architecture maps any prefixes in order, naming the key and both shapes on a mismatch")
    func givenArchitecture() throws {
        let architecture = Architecture(input: ActivationShape(height: 5, width: 5, channels: 1), preprocessing: Preprocessing(scale: 1, offset: 0),
                                        kinds: [.conv2d(Conv2DSpec(filters: 2, bias: true)), .flatten, .dense(DenseSpec(units: 3)), .softmax])
        let good = [TensorDescriptor(name: "features.0.weight", shape: [2, 1, 3, 3]), TensorDescriptor(name: "features.0.bias", shape: [2]),
                    TensorDescriptor(name: "head.weight", shape: [3, 18]), TensorDescriptor(name: "head.bias", shape: [3])]
        let mapping = try PyTorchMapping.map(good, architecture: architecture, file: "t.pt")
        #expect(mapping.parameters.map(\.key) == good.map(\.name))
        #expect(mapping.parameters.map(\.descriptor.name) == ["conv2d.kernel", "conv2d.bias", "dense.kernel", "dense.bias"])
        var bad = good
        bad[2].shape = [3, 20]
        #expect(throws: PyTorchError.tensor(file: "t.pt", key: "head.weight", reason: "shape [3, 20], but layer dense needs [3, 18] (CNNKit's dense.kernel [18, 3])")) {
            try PyTorchMapping.map(bad, architecture: architecture, file: "t.pt")
        }
    }
}

@Suite("PyTorch files: write, read back")
struct PyTorchFileTests {
    @Test("random documents round-trip bitwise through .pt", arguments: [UInt64(1), 2, 3, 4])
    func roundTrip(seed: UInt64) throws {
        let folder = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let document = try TestSupport.document(seed: seed)
        let path = folder.appendingPathComponent("m.pt").path
        try PyTorchWriter.write(StreamedModel(document: document), to: path)
        #expect(PyTorchFileFormat().recognizes(prefix: Array(try Data(contentsOf: URL(fileURLWithPath: path)).prefix(4096))))
        let reader = try PyTorchTensorReader(path: path)
        #expect(reader.architecture == document.architecture)
        #expect(reader.metadata == document.metadata)
        #expect(reader.parameterTensors.map(\.name) == document.tensors.map(\.name))
        for t in document.tensors {
            let back = try reader.readTensor(named: t.name)
            #expect(back.shape == t.tensor.shape)
            #expect(back.scalars.map(\.bitPattern) == t.tensor.scalars.map(\.bitPattern))
        }
    }

    @Test("a zip64 end record that disagrees with the 32-bit one is refused before the directory is walked, not a trap")
    func zip64Disagreement() throws {
        // torch.save writes a zip64 end of central directory record and locator; ZIPFoundation (and Python's
        // zipfile) take the directory offset from the zip64 record. Set that offset's high byte.
        var bytes = [UInt8](try Data(contentsOf: TestSupport.packageRoot.appendingPathComponent("Fixtures/pytorch/float64.pt")))
        let record = try #require((0...(bytes.count - 56)).last { bytes[$0..<($0 + 4)].elementsEqual([0x50, 0x4B, 0x06, 0x06]) })
        bytes[record + 55] = 0xF2
        let folder = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("m.pt").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect { try PyTorchTensorReader(path: path) } throws: { error in
            guard case let .archive(_, member, reason) = error as? PyTorchError else { return false }
            return member == nil && reason.contains("zip64 end of central directory record") && reason.contains("disagrees")
        }
    }

    @Test("the legacy format and plain zips")
    func recognition() {
        let format = PyTorchFileFormat()
        #expect(format.recognizes(prefix: PyTorchArchive.legacyMagic + [0x2E]))
        var zip: [UInt8] = [0x50, 0x4B, 0x03, 0x04] + Array(repeating: 0, count: 22) + [10, 0, 0, 0] + Array("x/data.pkl".utf8)
        #expect(format.recognizes(prefix: zip))
        zip = [0x50, 0x4B, 0x03, 0x04] + Array(repeating: 0, count: 22) + [10, 0, 0, 0] + Array("x/data/123".utf8)
        #expect(format.recognizes(prefix: zip))
        for other in ["a.weight.npy", "x/data/0.npy", "metadata.json", "x/config.pk"] {
            zip = [0x50, 0x4B, 0x03, 0x04] + Array(repeating: 0, count: 22) + [UInt8(other.utf8.count), 0, 0, 0] + Array(other.utf8)
            #expect(!format.recognizes(prefix: zip), "\(other)")
        }
    }
}

import Foundation
import Testing
@testable import Datasets

@Suite("IDX data sets")
struct DatasetTests {
    func temp(_ name: String, _ bytes: [UInt8]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cnnkit-idx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("Fashion-MNIST loads with the expected sizes")
    func real() throws {
        let train = try FashionMNIST.load(split: .train)
        let test = try FashionMNIST.load(split: .test, limit: 100)
        #expect(train.count == 60000 && train.height == 28 && train.width == 28)
        #expect(test.count == 100 && test.images.count == 78400)
        #expect(Set(train.labels) == Set(0...9))
    }

    @Test("a missing folder names the Debian package to install")
    func missing() throws {
        let error = try #require(throws: DatasetError.self) { try FashionMNIST.load(directory: "/nonexistent/fm", split: .train) }
        #expect(error == .datasetMissing(path: "/nonexistent/fm/train-images-idx3-ubyte.gz", package: "dataset-fashion-mnist"))
        #expect(error.description.contains("apt-get install -y dataset-fashion-mnist"))
    }

    @Test("broken IDX headers and sizes are reported with the offset", arguments: [
        ([0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3], "truncated: header [4] promises 4 data bytes, found 3"),
        ([0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3], "has trailing bytes"),
        ([0, 1, 8, 1], "not an IDX file"),
        ([0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0], "is not unsigned byte"),
        ([0, 0, 8, 3, 0, 0, 0, 1], "ends inside the IDX header"),
        ([0, 0, 8, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], "describe more than"),
        ([0, 0], "ends inside the 4-byte IDX magic"),
    ] as [([UInt8], String)])
    func broken(bytes: [UInt8], message: String) throws {
        let path = try temp("x-idx1-ubyte", bytes)
        let error = try #require(throws: DatasetError.self) { try IDXFile.read(path: path) }
        #expect(error.description.contains(message), "\(error)")
        #expect(error.description.hasPrefix(path))
    }

    @Test("a truncated gzip file is an error, not a crash")
    func truncatedGzip() throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"))
        let path = try temp("t-idx1-ubyte.gz", [UInt8](original.prefix(original.count / 2)))
        let error = try #require(throws: DatasetError.self) { try IDXFile.read(path: path) }
        #expect(error.description.contains("truncated"), "\(error)")
    }
}

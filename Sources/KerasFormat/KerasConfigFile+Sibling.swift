import ConvNet
import Foundation
import HDF5Format

extension KerasConfigFile {
    /// The largest `config.json` read (64 MiB).
    static let maximumBytes = 64 << 20

    /// The architecture in the Keras `config.json` beside a file named `model.weights.h5` (Keras' folder
    /// format), or nil when the file has another name or there is no such config.
    static func sibling(of weightsPath: String) throws -> Architecture? {
        let url = URL(fileURLWithPath: weightsPath)
        guard url.lastPathComponent == "model.weights.h5" else { return nil }
        let config = url.deletingLastPathComponent().appendingPathComponent("config.json")
        guard let handle = try? FileHandle(forReadingFrom: config) else { return nil }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: maximumBytes + 1)) ?? Data()
        guard data.count <= maximumBytes else {
            throw HDF5Error.invalid(file: config.path, location: "/", reason: "larger than \(maximumBytes) bytes")
        }
        return try read(json: String(decoding: data, as: UTF8.self), file: config.path, location: "config.json").architecture
    }
}

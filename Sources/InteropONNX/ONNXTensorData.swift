#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import ModelArchive

/// The values of an imported `TensorProto` (an initializer or a `Constant` node's `value`): float32 from
/// `raw_data` (little-endian), `float_data`, or an external-data file; int64 (a `Reshape` shape) from
/// `raw_data` or `int64_data`. Every size is checked against the tensor's `dims` before anything is copied.
struct ONNXTensorData {
    /// The model file, as errors name it.
    let file: String
    /// The folder the model is in: the only place external data may come from.
    let folder: String
    /// Where each initializer's `raw_data` is in the model file (``ONNXFileScan``), by name.
    let rawRanges: [String: (offset: UInt64, length: Int)]

    init(file: String, rawRanges: [String: (offset: UInt64, length: Int)] = [:]) {
        self.file = file
        self.rawRanges = rawRanges
        let dir = (file as NSString).deletingLastPathComponent
        folder = dir.isEmpty ? "." : dir
    }

    /// The element count of `dims`, refused when negative or overflowing.
    func count(_ tensor: Onnx_TensorProto) throws -> Int {
        var n = 1
        for d in tensor.dims {
            guard d >= 0, d <= Int64(Int32.max) else { throw ONNXError.tensor(file: file, tensor: tensor.name, reason: "dimension \(d) in dims \(tensor.dims)") }
            let (p, overflow) = n.multipliedReportingOverflow(by: Int(d))
            guard !overflow, p <= 1 << 32 else { throw ONNXError.tensor(file: file, tensor: tensor.name, reason: "dims \(tensor.dims) hold more than 2^32 elements") }
            n = p
        }
        return n
    }

    /// The tensor's dims as `Int`s (checked by ``count(_:)``).
    func shape(_ tensor: Onnx_TensorProto) throws -> [Int] {
        _ = try count(tensor)
        return tensor.dims.map { Int($0) }
    }

    /// A float32 tensor's values, row-major.
    func floats(_ tensor: Onnx_TensorProto) throws -> [Float] {
        guard tensor.dataType == Onnx_TensorProto.DataType.float.rawValue else {
            throw ONNXError.tensor(file: file, tensor: tensor.name, reason: "data_type \(Self.typeName(tensor.dataType)); CNNKit imports FLOAT (float32) weights")
        }
        let n = try count(tensor)
        if tensor.dataLocation == .external {
            return try externalFloats(tensor, count: n)
        }
        if let range = rawRanges[tensor.name], !tensor.hasRawData {
            guard range.length == n * 4 else {
                throw ONNXError.tensor(file: file, tensor: tensor.name, reason: "raw_data holds \(range.length) bytes, dims \(tensor.dims) need \(n * 4)")
            }
            return try fileFloats(file, named: "the model file", offset: range.offset, count: n) { ONNXError.tensor(file: file, tensor: tensor.name, reason: $0) }
        }
        if tensor.hasRawData {
            guard tensor.rawData.count == n * 4 else {
                throw ONNXError.tensor(file: file, tensor: tensor.name, reason: "raw_data holds \(tensor.rawData.count) bytes, dims \(tensor.dims) need \(n * 4)")
            }
            return tensor.rawData.withUnsafeBytes { Self.decodeFloats($0, count: n) }
        }
        guard tensor.floatData.count == n else {
            throw ONNXError.tensor(file: file, tensor: tensor.name, reason: "float_data holds \(tensor.floatData.count) values, dims \(tensor.dims) need \(n)")
        }
        return tensor.floatData
    }

    /// An int64 tensor's values (a `Reshape` target shape: small, never external).
    func int64s(_ tensor: Onnx_TensorProto) throws -> [Int64] {
        guard tensor.dataType == Onnx_TensorProto.DataType.int64.rawValue else {
            throw ONNXError.tensor(file: file, tensor: tensor.name, reason: "data_type \(Self.typeName(tensor.dataType)), expected INT64")
        }
        let n = try count(tensor)
        guard n <= 64, tensor.dataLocation != .external else { throw ONNXError.tensor(file: file, tensor: tensor.name, reason: "is not a small INT64 shape") }
        if let range = rawRanges[tensor.name], !tensor.hasRawData {
            guard range.length == n * 8 else {
                throw ONNXError.tensor(file: file, tensor: tensor.name, reason: "raw_data holds \(range.length) bytes, dims \(tensor.dims) need \(n * 8)")
            }
            let bytes = try fileValues(file, named: "the model file", offset: range.offset, count: range.length, zero: UInt8(0)) { ONNXError.tensor(file: file, tensor: tensor.name, reason: $0) }
            return bytes.withUnsafeBytes { raw in (0..<n).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) } }
        }
        if tensor.hasRawData {
            guard tensor.rawData.count == n * 8 else {
                throw ONNXError.tensor(file: file, tensor: tensor.name, reason: "raw_data holds \(tensor.rawData.count) bytes, dims \(tensor.dims) need \(n * 8)")
            }
            return tensor.rawData.withUnsafeBytes { raw in (0..<n).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) } }
        }
        guard tensor.int64Data.count == n else {
            throw ONNXError.tensor(file: file, tensor: tensor.name, reason: "int64_data holds \(tensor.int64Data.count) values, dims \(tensor.dims) need \(n)")
        }
        return tensor.int64Data
    }

    /// `n` little-endian float32 values from the start of `raw`.
    static func decodeFloats(_ raw: UnsafeRawBufferPointer, count n: Int) -> [Float] {
        (0..<n).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
    }

    private func decodeFloats(_ bytes: [UInt8], count n: Int) -> [Float] {
        bytes.withUnsafeBytes { Self.decodeFloats($0, count: n) }
    }

    /// The bytes of an external-data tensor, after its `location` is checked (CVE-2022-25882, CVE-2024-27318):
    /// a plain relative path (no `..`, not absolute, no backslash) to a regular file whose real path, symlinks
    /// resolved, is inside the real path of the model's folder; `offset` and `length` within that file and
    /// `length` exactly what `dims` need.
    func externalFloats(_ tensor: Onnx_TensorProto, count: Int) throws -> [Float] {
        let byteCount = count * 4
        func refuse(_ reason: String) -> ONNXError { .externalData(file: file, tensor: tensor.name, reason: reason) }
        var entries: [String: String] = [:]
        for entry in tensor.externalData {
            guard entries.updateValue(entry.value, forKey: entry.key) == nil else { throw refuse("key \(entry.key) appears twice") }
        }
        guard let location = entries["location"], !location.isEmpty else { throw refuse("no location") }
        guard !location.hasPrefix("/"), !location.contains("\\"), !location.contains("\0"), !location.contains(":") else {
            throw refuse("location '\(location)' is not a plain relative path inside the model's folder")
        }
        let components = location.split(separator: "/", omittingEmptySubsequences: false)
        guard !components.contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) else {
            throw refuse("location '\(location)' is not a plain relative path inside the model's folder (no '..', '.' or empty components)")
        }
        guard let realFolder = realPath(folder) else { throw refuse("the model's folder \(folder) cannot be resolved") }
        let candidate = folder + "/" + location
        guard let real = realPath(candidate) else { throw refuse("location '\(location)': no such file beside the model") }
        guard real.hasPrefix(realFolder == "/" ? "/" : realFolder + "/") else {
            throw refuse("location '\(location)' resolves to \(real), outside the model's folder \(realFolder) (a symlink out of the folder)")
        }
        func integer(_ key: String) throws -> UInt64? {
            guard let text = entries[key] else { return nil }
            guard let value = UInt64(text) else { throw refuse("\(key) '\(text)' is not a non-negative integer") }
            return value
        }
        let offset = try integer("offset") ?? 0
        let size: UInt64
        do {
            let (fd, bytes) = try FileIO.openRegularFile(real)
            close(fd)
            size = bytes
        } catch {
            throw refuse("location '\(location)' cannot be opened as a regular file: \(error)")
        }
        let length = try integer("length") ?? (size >= offset ? size - offset : 0)
        guard length == UInt64(byteCount) else { throw refuse("length \(length) bytes, dims \(tensor.dims) need \(byteCount)") }
        return try fileFloats(real, named: location, offset: offset, count: count, refuse)
    }

    /// `count` little-endian float32 values at `offset` of the regular file `path` (`name` in messages), read
    /// straight into the array that is returned.
    private func fileFloats(_ path: String, named name: String, offset: UInt64, count: Int, _ refuse: (String) -> ONNXError) throws -> [Float] {
        #if _endian(little)
        return try fileValues(path, named: name, offset: offset, count: count, zero: Float(0), refuse)
        #else
        return decodeFloats(try fileValues(path, named: name, offset: offset, count: count * 4, zero: UInt8(0), refuse), count: count)
        #endif
    }

    /// `count` values of `T`'s size at `offset` of the regular file `path` (`name` in messages), checked to lie
    /// inside it, read into the array returned.
    private func fileValues<T>(_ path: String, named name: String, offset: UInt64, count: Int, zero: T, _ refuse: (String) -> ONNXError) throws -> [T] {
        let fd: Int32, size: UInt64
        do {
            (fd, size) = try FileIO.openRegularFile(path)
        } catch {
            throw refuse("\(name) cannot be opened as a regular file: \(error)")
        }
        defer { close(fd) }
        let bytes = count * MemoryLayout<T>.stride
        let (end, overflow) = offset.addingReportingOverflow(UInt64(bytes))
        guard !overflow, end <= size else { throw refuse("offset \(offset) + length \(bytes) is past the end of \(name) (\(size) bytes)") }
        var values = [T](repeating: zero, count: count)
        let n: Int
        do {
            n = try values.withUnsafeMutableBytes { try FileIO.read(fd, into: $0, at: offset) }
        } catch {
            throw refuse("reading \(name): \(error)")
        }
        guard n == bytes else { throw refuse("\(name) ended after \(n) of \(bytes) bytes") }
        return values
    }

    private func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// `TensorProto.DataType`'s name of a value.
    static func typeName(_ value: Int32) -> String {
        Onnx_TensorProto.DataType(rawValue: Int(value)).map { "\($0)".uppercased() } ?? String(value)
    }
}

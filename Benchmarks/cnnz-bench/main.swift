#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CNNZFormat
import ConvNet
import Datasets
import Foundation
import HDF5Format
import InteropNumPy
import KerasFormat
import ModelArchive

// Write/read speed and file size of CNNZ (each codec) and of our HDF5 writer, for the seed model with trained
// weights and for a synthetic model of about 256 MB of float32 (Benchmarks/README.md, "File formats").
//
// Usage: cnnz-bench --dir DIR [--models seed,synthetic,normal] [--formats plain,cnnz,hdf5,memory,open] [--runs 3]
//                   [--small-runs 11] [--threads 2]
//                   (--formats also takes one variant: cnnz:raw, cnnz:deflate, cnnz:shuffle-deflate, cnnz:shuffle-zstd,
//                   hdf5:contiguous, hdf5:shuffle; memory is shuffle-zstd encoded and decoded in memory)
//                   [--single-above 1.0] [--train-images 5000]
//        cnnz-bench --open-read FILE.cnnz
//                   (one timed open of a raw CNNZ file reading every tensor, twice: mapped views and pread copies,
//                   both with every chunk CRC checked; one JSON line with the times and each tensor's digest, for
//                   formats_bench.py's side-by-side rounds against safetensors)
//
// For each model it writes DIR/<model>/manifest.json and one .npy per tensor (the exact float32 values, for
// Benchmarks/formats_bench.py), then times every format and prints one JSON line per (model, format) on
// standard output. Files it times are deleted once measured; the .npy files stay for the Python side.

let arguments = CommandLine.arguments
func option(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}
func fail(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write(Data("cnnz-bench: \(message)\n".utf8))
    exit(code)
}
if let file = option("--open-read") {
    openRead(file)
    exit(0)
}
guard let directory = option("--dir") else { fail("usage: cnnz-bench --dir DIR [--models seed,synthetic] [--runs 3] [--single-above 1.0]", code: 64) }
let models = (option("--models") ?? "seed,synthetic,normal").split(separator: ",").map(String.init)
let codingThreads = max(1, Int(option("--threads") ?? "2") ?? 2)
let runs = max(1, Int(option("--runs") ?? "3") ?? 3)
let singleAbove = Double(option("--single-above") ?? "1.0") ?? 1.0
let smallRuns = max(runs, Int(option("--small-runs") ?? "11") ?? 11)
let smallBelow = 0.01
let formats = Set((option("--formats") ?? "plain,cnnz,hdf5,memory,open").split(separator: ",").map(String.init))
let trainImages = Int(option("--train-images") ?? "5000") ?? 5000

func log(_ message: String) { FileHandle.standardError.write(Data("cnnz-bench: \(message)\n".utf8)) }

func loadAverage() -> String {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "?" }
    return text.split(separator: " ").prefix(3).joined(separator: " ")
}

// MARK: Timing

let clock = ContinuousClock()
func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }

/// Times `body`: the median of `runs` runs; of `smallRuns` runs when the first takes less than `smallBelow`
/// seconds; one run when the first takes more than `singleAbove` seconds.
/// The result of the last run is handed to `keep` outside the timed region (so freeing it is not timed).
/// `cpu` is the median of the runs' process CPU time (all threads, user + system).
/// `prepare` runs before each run, outside the timed region.
func measure<T>(_ body: () throws -> T, prepare: () -> Void = {}, keep: (T) -> Void = { _ in }) rethrows -> (seconds: Double, cpu: Double, runs: Int) {
    var times: [Double] = []
    var cpus: [Double] = []
    var target = runs
    while times.count < target {
        prepare()
        let cpu = cpuTime()
        let start = clock.now
        let result = try body()
        times.append(seconds(clock.now - start))
        cpus.append(cpuTime() - cpu)
        keep(result)
        if times.count == 1 && times[0] > singleAbove { break }
        if times.count == 1 && times[0] < smallBelow { target = smallRuns }
    }
    times.sort()
    cpus.sort()
    return (times[times.count / 2], cpus[cpus.count / 2], times.count)
}

/// The process's CPU time so far, every thread, user + system (`CLOCK_PROCESS_CPUTIME_ID`, as Python's
/// `time.process_time`).
func cpuTime() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Drops the file's pages from the page cache (they are clean: every writer here fsyncs), so that the next
/// read comes from the disk.
func evict(_ path: String) {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return }
    fdatasync(fd)
    _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
    close(fd)
}

func fileSize(_ path: String) -> Int {
    var info = stat()
    return stat(path, &info) == 0 ? Int(info.st_size) : -1
}

// MARK: Models

/// The seed architecture trained for one epoch on the first `trainImages` Fashion-MNIST images (plain SGD,
/// lr 0.005, batch 1, seed 0): realistic trained weights. Parameters only.
func seedModel() throws -> ModelDocument {
    let data = try FashionMNIST.load(split: .train, limit: trainImages)
    var trainer = try Trainer(architecture: .seed, optimizer: OptimizerConfig(kind: .sgd, learningRate: 0.005), batchSize: 1, seed: 0, threads: 1)
    try trainer.train(on: data, epochs: 1)
    return ModelDocument(network: trainer.network, metadata: ["benchmark": "seed, 1 epoch on \(data.count) images"])
}

/// A VGG-like architecture whose parameters are about 256 MiB of float32 (66.9 M values), most of it one dense
/// kernel [25088, 2560].
let syntheticArchitecture = Architecture(
    input: ActivationShape(height: 32, width: 32, channels: 3),
    kinds: [
        .conv2d(Conv2DSpec(filters: 64)), .relu,
        .conv2d(Conv2DSpec(filters: 128)), .relu,
        .maxPool2d(MaxPool2DSpec()),
        .flatten,
        .dense(DenseSpec(units: 2560)), .relu,
        .dense(DenseSpec(units: 1000)),
        .softmax,
    ]
)

/// Deterministic weights (RandomGenerator seed 2024): kernels ~ N(0, 1/sqrt(fan_in)) with one value in ten
/// drawn 100x smaller (decayed or near-pruned weights); biases ~ N(0, 0.01).
func syntheticModel() throws -> ModelDocument {
    var rng = RandomGenerator(seed: 2024)
    var tensors: [NamedTensor] = []
    for spec in try syntheticArchitecture.parameterSpecs() {
        let count = spec.shape.reduce(1, *)
        let sigma = spec.isBias ? 0.01 : 1.0 / Double(spec.fanIn).squareRoot()
        var scalars = [Float](repeating: 0, count: count)
        scalars.withUnsafeMutableBufferPointer { out in
            for i in 0..<count {
                let small = !spec.isBias && rng.next(below: 10) == 0
                out[i] = Float(rng.nextGaussian() * (small ? sigma / 100 : sigma))
            }
        }
        tensors.append(NamedTensor(name: spec.name, tensor: Tensor(shape: spec.shape, scalars: scalars)))
    }
    return ModelDocument(architecture: syntheticArchitecture, tensors: tensors, metadata: ["benchmark": "synthetic, seed 2024"])
}

/// About 64 MiB of float32 weights drawn from N(0, 0.02) (RandomGenerator seed 7), the distribution of the
/// shuffle-zstd targets: input 64x64x4 -> flatten (16384) -> dense 1024 -> softmax.
let normalArchitecture = Architecture(input: ActivationShape(height: 64, width: 64, channels: 4),
                                      kinds: [.flatten, .dense(DenseSpec(units: 1024)), .softmax])

func normalModel() throws -> ModelDocument {
    var rng = RandomGenerator(seed: 7)
    let tensors = try normalArchitecture.parameterSpecs().map { spec in
        let count = spec.shape.reduce(1, *)
        var scalars = [Float](repeating: 0, count: count)
        scalars.withUnsafeMutableBufferPointer { out in
            for i in 0..<count { out[i] = Float(rng.nextGaussian() * 0.02) }
        }
        return NamedTensor(name: spec.name, tensor: Tensor(shape: spec.shape, scalars: scalars))
    }
    return ModelDocument(architecture: normalArchitecture, tensors: tensors, metadata: ["benchmark": "normal N(0, 0.02), seed 7"])
}

// MARK: Export for the Python side

/// Writes every tensor as DIR/<model>/npy/<index>.npy (float32, little-endian) and a manifest naming them.
func export(_ document: ModelDocument, model: String, to folder: String) throws {
    try FileManager.default.createDirectory(atPath: "\(folder)/npy", withIntermediateDirectories: true)
    var entries: [[String: Any]] = []
    for (i, t) in document.tensors.enumerated() {
        let file = "npy/\(i).npy"
        let bytes = NumPyArray(shape: t.tensor.shape, values: t.tensor.scalars).encoded()
        try Data(bytes).write(to: URL(fileURLWithPath: "\(folder)/\(file)"))
        entries.append(["name": t.name, "shape": t.tensor.shape, "file": file])
    }
    let manifest: [String: Any] = ["model": model, "tensors": entries, "payload_bytes": payloadBytes(document)]
    try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys, .prettyPrinted])
        .write(to: URL(fileURLWithPath: "\(folder)/manifest.json"))
}

func payloadBytes(_ document: ModelDocument) -> Int { document.tensors.reduce(0) { $0 + $1.tensor.scalars.count * 4 } }

/// True when both documents hold the same tensors, bit for bit, in the same order.
func sameTensors(_ a: ModelDocument, _ b: ModelDocument) -> Bool {
    guard a.tensors.count == b.tensors.count else { return false }
    for (x, y) in zip(a.tensors, b.tensors) {
        guard x.name == y.name, x.tensor.shape == y.tensor.shape, x.tensor.scalars.count == y.tensor.scalars.count else { return false }
        let equal = x.tensor.scalars.withUnsafeBytes { p in y.tensor.scalars.withUnsafeBytes { q in memcmp(p.baseAddress!, q.baseAddress!, p.count) == 0 } }
        guard equal else { return false }
    }
    return true
}

// MARK: Plain-file baseline

/// The floor for any loader that copies: the tensors' bytes back to back, written with write(2) + fsync and
/// read with pread(2) into freshly allocated [Float] buffers.
enum PlainFile {
    static func write(_ document: ModelDocument, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown) }
        defer { close(fd) }
        for t in document.tensors {
            try t.tensor.scalars.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                    guard n > 0 else { throw CocoaError(.fileWriteUnknown) }
                    done += n
                }
            }
        }
        guard fsync(fd) == 0 else { throw CocoaError(.fileWriteUnknown) }
    }

    static func read(_ shapes: [(String, [Int])], from path: String) throws -> ModelDocument {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CocoaError(.fileReadUnknown) }
        defer { close(fd) }
        var offset = 0
        var tensors: [NamedTensor] = []
        for (name, shape) in shapes {
            var scalars = [Float](repeating: 0, count: shape.reduce(1, *))
            try scalars.withUnsafeMutableBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = pread(fd, raw.baseAddress! + done, raw.count - done, off_t(offset + done))
                    guard n > 0 else { throw CocoaError(.fileReadUnknown) }
                    done += n
                }
                offset += raw.count
            }
            tensors.append(NamedTensor(name: name, tensor: Tensor(shape: shape, scalars: scalars)))
        }
        return ModelDocument(architecture: .seed, tensors: tensors)
    }
}

// MARK: Results

struct Result: Encodable {
    var model: String
    var system: String
    var format: String
    var variant: String
    var size: Int?
    var payload: Int
    var write_s: Double?
    var write_cpu_s: Double?
    var write_runs: Int?
    var read_s: Double?
    var read_cpu_s: Double?
    var read_runs: Int?
    var cold_read_s: Double?
    var verified: Bool?
    var load: String
    var note: String?
}

/// "cnnkit (libhdf5 1.10.8, zlib 1.2.13)": the C libraries this process linked, asked through dlsym so that
/// this target needs no C module of its own.
let system: String = {
    var parts: [String] = []
    if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "H5get_libversion") {
        typealias Version = @convention(c) (UnsafeMutablePointer<UInt32>, UnsafeMutablePointer<UInt32>, UnsafeMutablePointer<UInt32>) -> Int32
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        if unsafeBitCast(symbol, to: Version.self)(&major, &minor, &release) >= 0 { parts.append("libhdf5 \(major).\(minor).\(release)") }
    }
    for (library, name) in [("zlib", "zlibVersion"), ("libzstd", "ZSTD_versionString")] {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { continue }
        typealias Version = @convention(c) () -> UnsafePointer<CChar>?
        if let text = unsafeBitCast(symbol, to: Version.self)() { parts.append("\(library) \(String(cString: text))") }
    }
    return parts.isEmpty ? "cnnkit" : "cnnkit (\(parts.joined(separator: ", ")))"
}()

let encoder = JSONEncoder()
encoder.outputFormatting = [.sortedKeys]
func emit(_ result: Result) {
    FileHandle.standardOutput.write(try! encoder.encode(result) + Data("\n".utf8))
}

/// One format: write (timed, into a new file), warm reads (timed, the file was just written), one cold read after dropping the
/// file's pages, a bitwise check of what was read, then the file is deleted.
func bench(model: String, document: ModelDocument, format: String, variant: String, path: String, note: String? = nil,
           write: () throws -> Void, read: () throws -> ModelDocument, extraReads: [(String, () throws -> ModelDocument)] = []) throws {
    let payload = payloadBytes(document)
    let load = loadAverage()
    // Every timed write creates a new file: replacing a big file costs our atomic writers the freeing of the
    // old one inside rename(2), which is not what is measured here (Benchmarks/README.md).
    let w = try measure(write, prepare: { unlink(path) })
    var last: ModelDocument?
    let r = try measure(read, keep: { last = $0 })
    let verified = last.map { sameTensors($0, document) } ?? false
    last = nil
    evict(path)
    let coldStart = clock.now
    _ = try read()
    let cold = seconds(clock.now - coldStart)
    let size = fileSize(path)
    emit(Result(model: model, system: system, format: format, variant: variant, size: size, payload: payload,
                write_s: w.seconds, write_cpu_s: w.cpu, write_runs: w.runs, read_s: r.seconds, read_cpu_s: r.cpu, read_runs: r.runs, cold_read_s: cold,
                verified: verified, load: load, note: note))
    log("\(model) \(format) \(variant): \(size) bytes, write \(w.seconds) s, read \(r.seconds) s, cold \(cold) s, verified \(verified)")
    for (extra, extraRead) in extraReads {
        var extraLast: ModelDocument?
        let e = try measure(extraRead, keep: { extraLast = $0 })
        let ok = extraLast.map { sameTensors($0, document) } ?? false
        extraLast = nil
        evict(path)
        let s = clock.now
        _ = try extraRead()
        let c = seconds(clock.now - s)
        emit(Result(model: model, system: system, format: format, variant: extra, size: size, payload: payload,
                    read_s: e.seconds, read_cpu_s: e.cpu, read_runs: e.runs, cold_read_s: c, verified: ok, load: loadAverage(), note: "read of the \(variant) file"))
        log("\(model) \(format) \(extra): read \(e.seconds) s, cold \(c) s, verified \(ok)")
    }
    unlink(path)
}

/// The codec alone: `CNNZModel.encode` into memory and `CNNZModel.read(bytes:)` (every CRC checked), no file,
/// on `codingThreads` threads and on one; then the bfloat16 sizes (raw and shuffle-zstd) against the float32 payload.
/// Rows `cnnz-memory`: write = encode, read = decode.
func benchMemory(model: String, document: ModelDocument) throws {
    var rounded = document
    for i in rounded.tensors.indices { StorageDType.bfloat16.roundTrip(&rounded.tensors[i].tensor) }
    var cases: [(String, CNNZWriteOptions, ModelDocument)] = [
        ("shuffle-zstd, \(codingThreads) threads", CNNZWriteOptions(codec: .shuffleZstd, threads: codingThreads), document),
        ("shuffle-zstd bfloat16, \(codingThreads) threads", CNNZWriteOptions(codec: .shuffleZstd, dtype: .bfloat16, threads: codingThreads), rounded),
        ("raw bfloat16, \(codingThreads) threads", CNNZWriteOptions(codec: .raw, dtype: .bfloat16, threads: codingThreads), rounded),
    ]
    if codingThreads > 1 { cases.insert(("shuffle-zstd, 1 thread", CNNZWriteOptions(codec: .shuffleZstd, threads: 1), document), at: 1) }
    for (variant, options, expected) in cases {
        let load = loadAverage()
        var bytes: [UInt8] = []
        let w = try measure({ try CNNZModel.encode(document, options: options) }, keep: { bytes = $0 })
        var last: ModelDocument?
        let readOptions = CNNZReadOptions(threads: options.threads)
        let r = try measure({ try CNNZModel.read(bytes: bytes, name: "memory", options: readOptions) }, keep: { last = $0 })
        let verified = last.map { sameTensors($0, expected) } ?? false
        last = nil
        emit(Result(model: model, system: system, format: "cnnz-memory", variant: variant, size: bytes.count, payload: payloadBytes(document),
                    write_s: w.seconds, write_cpu_s: w.cpu, write_runs: w.runs, read_s: r.seconds, read_cpu_s: r.cpu, read_runs: r.runs,
                    verified: verified, load: load, note: "level \(options.level), encode/decode in memory"))
        log("\(model) cnnz-memory \(variant): \(bytes.count) bytes, encode \(w.seconds) s, decode \(r.seconds) s, verified \(verified)")
    }
}

func run(model: String) throws {
    let folder = "\(directory)/\(model)"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    log("\(model): building the model (load \(loadAverage()))")
    let document = model == "seed" ? try seedModel() : model == "normal" ? try normalModel() : try syntheticModel()
    try export(document, model: model, to: folder)
    log("\(model): \(document.tensors.count) tensors, \(payloadBytes(document)) bytes of float32; exported to \(folder)")
    let shapes = document.tensors.map { ($0.name, $0.tensor.shape) }

    let plain = "\(folder)/plain.bin"
    if formats.contains("plain") {
        try bench(model: model, document: document, format: "plain", variant: "write+fsync / pread", path: plain,
                  note: "baseline: the tensors' bytes back to back, no format",
                  write: { try PlainFile.write(document, to: plain) }, read: { try PlainFile.read(shapes, from: plain) })
    }

    for codec in CNNZCodec.allCases where formats.contains("cnnz") || formats.contains("cnnz:\(codec.rawValue)") {
        let path = "\(folder)/model-\(codec.rawValue).cnnz"
        let options = CNNZWriteOptions(codec: codec)
        let extra: [(String, () throws -> ModelDocument)] = codec == .raw
            ? [("raw, no chunk CRC", { try CNNZModel.read(path: path, options: CNNZReadOptions(verifyChecksums: false)) })] : []
        try bench(model: model, document: document, format: "cnnz", variant: codec.rawValue, path: path,
                  note: codec == .raw ? nil : "level \(options.level)",
                  write: { try CNNZModel.write(document, to: path, options: options) },
                  read: { try CNNZModel.read(path: path) }, extraReads: extra)
    }

    if formats.contains("memory") {
        try benchMemory(model: model, document: document)
    }

    if formats.contains("open") {
        // Kept for formats_bench.py, which times opening it beside safetensors' safe_open (deleted with DIR).
        try CNNZModel.write(document, to: "\(folder)/open.cnnz", options: CNNZWriteOptions(codec: .raw))
        log("\(model): wrote \(folder)/open.cnnz for the side-by-side open")
    }

    for (variant, compression) in [("contiguous", HDF5Compression.none), ("shuffle+deflate-4+fletcher32", .deflate(level: 4))]
        where formats.contains("hdf5") || formats.contains("hdf5:\(variant.prefix { $0 != "+" })") {
        let path = "\(folder)/model-\(variant).h5"
        try bench(model: model, document: document, format: "hdf5", variant: variant, path: path,
                  write: { try HDF5Model.write(document, to: path, options: HDF5WriteOptions(compression: compression)) },
                  read: { try HDF5Model.read(path: path) })
    }
}

/// FNV-1a of a tensor's bytes (the same digest formats_bench.py computes), to check what was read.
func digest(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    var i = 0
    // Every 64th byte and the last one: enough to catch a wrong tensor or offset, cheap on 256 MB.
    while i < bytes.count {
        h = (h ^ UInt64(bytes[i])) &* 0x100_0000_01b3
        i += 64
    }
    if let last = bytes.last { h = (h ^ UInt64(last)) &* 0x100_0000_01b3 }
    return h
}

/// `--open-read`: opens a raw CNNZ file and obtains every tensor with every chunk CRC checked, once as views
/// into a read-only mapping (`CNNZReadOptions(mapFile: true)`, CRCs checked at open) and once as copies read
/// with pread (the default reader); prints the wall and CPU times and each tensor's digest as one JSON line.
func openRead(_ path: String) {
    let clock = ContinuousClock()  // the global one is not initialized yet when --open-read runs
    do {
        var views: [TensorView] = []
        let cpu0 = cpuTime(), t0 = clock.now
        do {
            let reader = try CNNZReader(path: path, options: CNNZReadOptions(mapFile: true))
            for i in reader.tensors.indices { views.append(try reader.view(at: i)) }
        }
        let viewSeconds = seconds(clock.now - t0), viewCPU = cpuTime() - cpu0
        let cpu1 = cpuTime(), t1 = clock.now
        var copies: [Tensor] = []
        do {
            let reader = try CNNZReader(path: path)
            for i in reader.tensors.indices { copies.append(try reader.readTensor(at: i)) }
        }
        let copySeconds = seconds(clock.now - t1), copyCPU = cpuTime() - cpu1
        let viewDigests = views.map { view in view.withUnsafeBufferPointer { digest(UnsafeRawBufferPointer($0)) } }
        let copyDigests = copies.map { t in t.scalars.withUnsafeBytes { digest($0) } }
        let line: [String: Any] = ["views_s": viewSeconds, "views_cpu_s": viewCPU, "copies_s": copySeconds, "copies_cpu_s": copyCPU,
                                   "borrowed": views.allSatisfy(\.isBorrowed), "digests": viewDigests.map { String($0) },
                                   "copies_agree": viewDigests == copyDigests]
        FileHandle.standardOutput.write(try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]) + Data("\n".utf8))
    } catch {
        fail("\(path): \(error)", code: 65)
    }
}

do {
    for model in models {
        guard ["seed", "synthetic", "normal"].contains(model) else { fail("unknown model \(model) (seed, synthetic, normal)", code: 64) }
        try run(model: model)
    }
} catch {
    fail("\(error)", code: 70)
}

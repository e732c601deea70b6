#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@_spi(Fuzzing) import CNNZFormat
import ConvNet
import ModelArchive
import ModelFiles
import Verification

// The libFuzzer target for every reader, through the path `cnnkit verify` takes (`scripts/fuzz.sh`).
//
// One target, one mode per reader, chosen by the environment variable CNNKIT_FUZZ_FORMAT:
//
//   h5            HDF5 full-model file (legacy Keras .h5 with our /cnnkit group)
//   weights.h5    Keras 3 .weights.h5, read with each of the architectures below (it carries none)
//   keras         Keras 3 .keras zip
//   safetensors   safetensors, also read with each architecture when it carries none
//   npz           npz, also read with each architecture when it carries none
//   pt            PyTorch .pt state dicts (zip + data-only pickle), also read with each architecture (a state
//                 dict carries none unless CNNKit wrote it; inference is tried first)
//   onnx          ONNX models (protobuf decoded by the generated onnx.proto types, the graph read as an
//                 architecture; external data is looked for beside the input, in the private folder)
//   cnnz          CNNZ: first the CNNZ module alone, three ways (as given; with its preamble, header and footer
//                 CRCs recomputed and chunk CRCs off, so that mutations reach the JSON and table checks; tensor
//                 by tensor through CNNZReader), then through ModelFiles like the others
//
// Each input is written to a file (libhdf5 opens paths, so every mode goes through one): a private folder made
// once per process under $CNNKIT_FUZZ_SCRATCH, else /dev/shm (else $TMPDIR or /tmp), so that no sibling
// config.json is ever found beside it. A process that libFuzzer ends on a finding leaves its folder behind;
// scripts/fuzz.sh gives every run one scratch base and removes it. Then, as `cnnkit
// verify FILE [--architecture A]` does: `ModelFiles.open`, then `Verifier.verify`, which checks the digests
// (reading every tensor), the architecture and shapes, runs the probes and reads every optimizer slot. What is
// fuzzed is what users run.
//
// Built with `--sanitize=fuzzer`, SwiftPM compiles this file as a library and libFuzzer's `main` calls
// `LLVMFuzzerTestOneInput`. In an ordinary build this is the program's main file: the global `replayStatus`
// below then replays the files and folders named on the command line (`CNNKIT_FUZZ_FORMAT=npz ModelFuzz
// Fixtures/npz/corpus`), printing one line per file, and exits 0 unless a file cannot be opened. A crash or
// hang is the finding; a refusal (any thrown error) is the expected outcome for a broken input.

/// A fuzzing mode: the reader it aims at and how the input file is named.
struct Mode {
    var name: String
    var fileName: String
    var givesArchitecture: Bool

    static let all: [Mode] = [
        Mode(name: "h5", fileName: "input.h5", givesArchitecture: false),
        Mode(name: "weights.h5", fileName: "input.weights.h5", givesArchitecture: true),
        Mode(name: "keras", fileName: "input.keras", givesArchitecture: false),
        Mode(name: "safetensors", fileName: "input.safetensors", givesArchitecture: true),
        Mode(name: "npz", fileName: "input.npz", givesArchitecture: true),
        Mode(name: "pt", fileName: "input.pt", givesArchitecture: true),
        Mode(name: "onnx", fileName: "input.onnx", givesArchitecture: false),
        Mode(name: "cnnz", fileName: "input.cnnz", givesArchitecture: false),
    ]

    static let current: Mode = {
        let requested = getenv("CNNKIT_FUZZ_FORMAT").map { String(cString: $0) } ?? ""
        guard let mode = all.first(where: { $0.name == requested }) else {
            let names = all.map(\.name).joined(separator: ", ")
            complain("ModelFuzz: set CNNKIT_FUZZ_FORMAT to one of \(names) (found '\(requested)')")
            exit(64)
        }
        return mode
    }()
}

/// The architectures of the seed corpora whose files carry none (`Fixtures/*/corpus/README.md`): the tiny one of
/// `Fixtures/safetensors/tiny.arch.json` and the corpus models, and Keras' two-conv fixture.
let architectureJSON = [
    #"{"version":1,"input":{"height":6,"width":6,"channels":1},"layers":[{"type":"conv2d","name":"conv2d","filters":2,"kernel":[3,3],"bias":true},{"type":"relu","name":"re_lu"},{"type":"maxpool2d","name":"max_pooling2d","pool":[2,2]},{"type":"flatten","name":"flatten"},{"type":"dense","name":"dense","units":3,"bias":true},{"type":"softmax","name":"softmax"}]}"#,
    #"{"version":1,"input":{"channels":3,"height":11,"width":10},"preprocessing":{"offset":0,"scale":0.003921569},"layers":[{"bias":true,"filters":4,"kernel":[3,3],"name":"conv2d","padding":"same","stride":[2,2],"type":"conv2d"},{"name":"conv2d_relu","type":"relu"},{"bias":false,"filters":5,"kernel":[3,2],"name":"conv2d_1","padding":"same","stride":[1,1],"type":"conv2d"},{"name":"re_lu","type":"relu"},{"name":"max_pooling2d","padding":"same","pool":[3,3],"stride":[2,2],"type":"maxpool2d"},{"name":"flatten","type":"flatten"},{"bias":true,"name":"dense","type":"dense","units":7},{"name":"softmax","type":"softmax"}]}"#,
]
let architectures: [Architecture] = architectureJSON.map { json in
    do {
        return try Architecture.decode(json: Array(json.utf8), strict: true)
    } catch {
        // The harness's own constants, never fuzz input: a broken one stops every run at once, saying why.
        complain("ModelFuzz: a built-in architecture does not decode: \(error)")
        exit(2)
    }
}

/// The private folder the inputs are written to, made once per process.
let scratchFolder: String = {
    var bases: [String] = []
    if let given = getenv("CNNKIT_FUZZ_SCRATCH") { bases.append(String(cString: given)) }
    bases.append("/dev/shm")
    if let tmp = getenv("TMPDIR") { bases.append(String(cString: tmp)) }
    bases.append("/tmp")
    for base in bases {
        var template = Array("\(base)/cnnkit-fuzz-XXXXXX".utf8CString)
        if template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil {
            let folder = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            atexit { unlink("\(scratchFolder)/\(Mode.current.fileName)"); rmdir(scratchFolder) }
            return folder
        }
    }
    complain("ModelFuzz: cannot create a scratch folder in \(bases)")
    exit(73)
}()

/// One line on stderr.
func complain(_ text: String) {
    var line = Array(text.utf8)
    line.append(0x0A)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress!, $0.count) }
}

/// Writes the input where the readers will open it.
func writeInput(_ bytes: [UInt8], to path: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else {
        complain("ModelFuzz: cannot write \(path)")
        exit(74)
    }
    var written = 0
    bytes.withUnsafeBytes { raw in
        while written < raw.count {
            let n = write(fd, raw.baseAddress! + written, raw.count - written)
            if n <= 0 { break }
            written += n
        }
    }
    close(fd)
    guard written == bytes.count else {
        complain("ModelFuzz: short write to \(path)")
        exit(74)
    }
}

/// `cnnkit verify PATH [--architecture A]`, without the printing: open, then every check of the verifier.
func verify(_ path: String, architecture: Architecture?) -> (opened: Bool, outcome: String) {
    do {
        let opened = try ModelFiles.open(path, architecture: architecture)
        let report = try Verifier.verify(opened.model, path: path, format: opened.format.format.rawValue, parseDetail: opened.integrity)
        if report.passed { return (true, "verified") }
        let failed = report.checks.filter { $0.status == .fail }.map(\.name).joined(separator: ",")
        return (true, "checks failed: \(failed)")
    } catch {
        return (false, "refused: \(error)")
    }
}

/// The CNNZ module alone (what the former CNNZFuzz target did): the outcome of reading the bytes as given.
func exerciseCNNZModule(_ bytes: [UInt8]) -> String {
    let outcome: String
    do {
        let document = try CNNZModel.read(bytes: bytes, name: "input")
        outcome = "module: \(document.tensors.count) tensors"
    } catch {
        outcome = "module refused: \(error)"
    }
    var relaxed = CNNZReadOptions(maxHeaderBytes: 1 << 20, maxTensorCount: 1024, maxRank: 8, maxElementCount: 1 << 22, verifyChecksums: false)
    // A plain container, so that mutated tensor tables still reach the codecs.
    relaxed.checksModel = false
    if let reader = try? CNNZReader(bytes: CNNZLayout.resealed(bytes), name: "resealed", options: relaxed) {
        for i in reader.tensors.indices { _ = try? reader.readTensor(at: i) }
        _ = reader.metadata
        _ = try? reader.readTensor(named: "probes.inputs")
    }
    return outcome
}

/// Reads one input as the mode says; returns the outcome of each reading, for the replay log.
func exercise(_ bytes: [UInt8]) -> String {
    let mode = Mode.current
    let module = mode.name == "cnnz" ? exerciseCNNZModule(bytes) + " | " : ""
    let path = "\(scratchFolder)/\(mode.fileName)"
    writeInput(bytes, to: path)
    var first = verify(path, architecture: nil)
    first.outcome = module + first.outcome
    if !first.opened && mode.givesArchitecture {
        // As with --architecture: each architecture in turn, until one opens the file.
        for (i, architecture) in architectures.enumerated() {
            let attempt = verify(path, architecture: architecture)
            first.outcome += " | architecture \(i): \(attempt.outcome)"
            if attempt.opened { break }
        }
    }
    return first.outcome
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    _ = exercise(bytes)
    return 0
}

/// Replays every file named on the command line (folders: their files, sorted) and exits.
func replayCommandLine() -> Int32 {
    var files: [String] = []
    for argument in CommandLine.arguments.dropFirst() {
        if let dir = opendir(argument) {
            var names: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafePointer(to: &entry.pointee.d_name) { name in
                    name.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: name.pointee)) { String(cString: $0) }
                }
                if !name.hasPrefix(".") && name != "README.md" { names.append("\(argument)/\(name)") }
            }
            closedir(dir)
            files += names.sorted()
        } else {
            files.append(argument)
        }
    }
    var failures: Int32 = 0
    for path in files {
        guard let file = fopen(path, "rb") else {
            print("\(path): cannot open")
            failures += 1
            continue
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        fclose(file)
        print("\(path): \(exercise(bytes))")
    }
    print("replayed \(files.count) inputs (\(Mode.current.name))")
    exit(failures == 0 ? 0 : 66)
}

/// Runs the replay when this file is the program's main file (see the note at the top).
let replayStatus = replayCommandLine()

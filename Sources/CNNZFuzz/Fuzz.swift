#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@_spi(Fuzzing) import CNNZFormat

// The libFuzzer target for the CNNZ reader (`scripts/fuzz.sh`).
//
// Built with `--sanitize=fuzzer`, SwiftPM compiles this file as a library and libFuzzer's `main` calls
// `LLVMFuzzerTestOneInput`. In an ordinary build this is the program's main file: the global `replayStatus`
// below is then initialised eagerly at start-up and replays the files and folders named on the command line
// (`CNNZFuzz Fixtures/cnnz/corpus`), printing one line per file. In the fuzzer build it is a lazy global that
// nothing touches.

/// Reads one input three ways: as given; with its preamble, header and footer CRCs recomputed and chunk CRCs
/// off (so that mutations reach the JSON and table checks); and tensor by tensor through ``CNNZReader``.
/// Returns the outcome of the first reading, for the replay log.
func exercise(_ bytes: [UInt8]) -> String {
    let outcome: String
    do {
        let document = try CNNZModel.read(bytes: bytes, name: "input")
        outcome = "ok: \(document.tensors.count) tensors"
    } catch {
        outcome = "error: \(error)"
    }
    let relaxed = CNNZReadOptions(maxHeaderBytes: 1 << 20, maxTensorCount: 1024, maxRank: 8, maxElementCount: 1 << 22, verifyChecksums: false)
    if let reader = try? CNNZReader(bytes: CNNZLayout.resealed(bytes), name: "resealed", options: relaxed) {
        for i in reader.tensors.indices { _ = try? reader.readTensor(at: i) }
        _ = reader.metadata
        _ = try? reader.readTensor(named: "probes.inputs")
    }
    return outcome
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
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if !name.hasPrefix(".") { names.append("\(argument)/\(name)") }
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
    print("replayed \(files.count) inputs")
    exit(failures == 0 ? 0 : 66)
}

/// Runs the replay when this file is the program's main file (see the note at the top).
let replayStatus = replayCommandLine()

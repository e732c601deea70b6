import ConvNet
import Foundation
import ModelArchive
import Testing
import CNNKitTestSupport
@testable import ModelFiles

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every writer goes through AtomicFile, and every read starts with the input check: the file-system rules of
/// Documentation/cli.md ("Writing files", "Reading files") for each format.
@Suite("File safety of every format")
struct FileSafetyTests {
    /// Every format CNNKit writes, by extension.
    static let extensions = ["h5", "weights.h5", "cnnz", "keras", "safetensors", "npz", "onnx"]

    static func folder() throws -> String {
        try ConversionSupport.temporaryDirectory().path
    }

    static func entries(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
    }

    static func mode(_ path: String) -> mode_t {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o7777 : 0
    }

    static func kind(_ path: String) -> mode_t {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & S_IFMT : 0
    }

    @Test("saving keeps an existing file's mode (0640) and leaves only the file", arguments: extensions)
    func keepsMode(ext: String) throws {
        let dir = try Self.folder()
        let path = "\(dir)/m.\(ext)"
        let document = try ConversionSupport.document(seed: 3, probes: true, state: false)
        try ModelFiles.save(document, to: path)
        #expect(Self.mode(path) == 0o644)
        #expect(chmod(path, 0o640) == 0)
        try ModelFiles.save(document, to: path)
        #expect(Self.mode(path) == 0o640)
        #expect(try Self.entries(dir) == ["m.\(ext)"])
    }

    @Test("saving through a symbolic link writes its target and keeps the link", arguments: extensions)
    func throughLink(ext: String) throws {
        let dir = try Self.folder()
        try FileManager.default.createDirectory(atPath: dir + "/store", withIntermediateDirectories: false)
        #expect(symlink("store/real.\(ext)", "\(dir)/link.\(ext)") == 0)
        let document = try ConversionSupport.document(seed: 4, probes: true, state: false)
        try ModelFiles.save(document, to: "\(dir)/link.\(ext)")
        #expect(Self.kind("\(dir)/link.\(ext)") == S_IFLNK)
        #expect(Self.kind("\(dir)/store/real.\(ext)") == S_IFREG)
        if ext != "onnx" {
            let reread = try ModelFiles.load("\(dir)/link.\(ext)")
            #expect(try reread.network().flatParameters == (try document.network().flatParameters))
        }
        #expect(try Self.entries(dir) == ["link.\(ext)", "store"])
        #expect(try Self.entries(dir + "/store") == ["real.\(ext)"])
    }

    @Test("saving onto a FIFO is refused (exit 73's category) and the FIFO stays", arguments: extensions)
    func fifoOutput(ext: String) throws {
        let dir = try Self.folder()
        let path = "\(dir)/out.\(ext)"
        #expect(mkfifo(path, 0o644) == 0)
        let document = try ConversionSupport.document(seed: 5, probes: true, state: false)
        let error = try #require(throws: (any Error).self) { try ModelFiles.save(document, to: path) }
        #expect((error as? ModelFileError)?.category == .cannotCreateOutput)
        #expect("\(error)".contains("\(path): cannot create: is a FIFO (named pipe)"))
        #expect(Self.kind(path) == S_IFIFO)
        #expect(try Self.entries(dir) == ["out.\(ext)"])
    }

    @Test("reading a FIFO, a device, a folder or a link loop is refused at once, naming what it is")
    func refusedInputs() throws {
        let dir = try Self.folder()
        #expect(mkfifo(dir + "/pipe.h5", 0o644) == 0)
        #expect(symlink("b", dir + "/a") == 0)
        #expect(symlink("a", dir + "/b") == 0)
        // The FIFO has no writer: a blocking open would hang, so the FIFO is tried on a thread given 2 seconds.
        let fifo = dir + "/pipe.h5"
        let message = BlockingGuard.withinSeconds(2, releasing: fifo) {
            do {
                _ = try ModelFiles.load(fifo)
                return "read"
            } catch {
                return "\(error)"
            }
        }
        #expect(message == "\(fifo): cannot open: is a FIFO (named pipe), not a regular file")
        let cases = [
            (dir + "/pipe.h5", "is a FIFO (named pipe), not a regular file"),
            ("/dev/null", "is a character device, not a regular file"),
            (dir, "is a folder"),
            (dir + "/a", "symbolic link loop (too many levels of symbolic links)"),
            (dir + "/none", "no such file"),
        ]
        for (path, reason) in cases {
            for attempt in [{ _ = try ModelFiles.fileFormat(of: path) }, { _ = try ModelFiles.load(path) }, { _ = try ModelFiles.open(path) }] {
                let error = try #require(throws: ArchiveError.self) { try attempt() }
                #expect(error == .missingFile(path: path, reason: reason))
                #expect(error.category == .missingInput)
            }
        }
    }
}

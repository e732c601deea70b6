import Foundation
import Testing
@testable import ModelArchive
import CNNKitTestSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files of every kind in a fresh folder.
enum FileSupport {
    static func folder() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cnnkit-fs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func entries(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
    }

    static func mode(_ path: String) -> mode_t {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o7777 : 0
    }

    static func isSymlink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }

    static func contents(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map { [UInt8]($0) }
    }

    static var isRoot: Bool { geteuid() == 0 }

    /// A character device like /dev/null (major 1, minor 3) at `path`; needs root.
    static func makeCharacterDevice(_ path: String) -> Bool {
        mknod(path, mode_t(S_IFCHR) | 0o666, dev_t((1 << 8) | 3)) == 0
    }

    /// A listening Unix socket bound at `path` (closed when the process ends).
    static func makeSocket(_ path: String) -> Bool {
        #if os(Linux)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return false }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return bound == 0
    }
}

@Suite("Atomic writes: destinations")
struct AtomicDestinationTests {
    @Test("a FIFO at the destination is refused before anything is written, and stays a FIFO")
    func fifoDestination() throws {
        let dir = try FileSupport.folder()
        let path = dir + "/out.cnnz"
        #expect(mkfifo(path, 0o644) == 0)
        let message = BlockingGuard.withinSeconds(2, releasing: path) {
            var ran = false
            do {
                try AtomicFile.write(to: path) { _ in ran = true }
                return "written"
            } catch {
                return "\(ran ? "body ran; " : "")\(error) [\((error as? ArchiveError)?.category == .cannotCreateOutput)]"
            }
        }
        #expect(message == "\(path): cannot create: is a FIFO (named pipe), not a regular file; CNNKit replaces only regular files [true]")
        var info = stat()
        #expect(lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFIFO)
        #expect(try FileSupport.entries(dir) == ["out.cnnz"])
    }

    @Test("a character device at the destination (a /dev/null made with mknod) is refused and stays a device",
          .enabled(if: FileSupport.isRoot, "mknod needs root"))
    func deviceDestination() throws {
        let dir = try FileSupport.folder()
        let path = dir + "/null"
        #expect(FileSupport.makeCharacterDevice(path))
        let error = try #require(throws: ArchiveError.self) { try AtomicFile.write(bytes: [1, 2, 3], to: path) }
        #expect(error.category == .cannotCreateOutput)
        #expect(error.description == "\(path): cannot create: is a character device, not a regular file; CNNKit replaces only regular files")
        var info = stat()
        #expect(lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR)
        #expect(try FileSupport.entries(dir) == ["null"])
    }

    @Test("a socket or a folder at the destination is refused")
    func socketAndFolder() throws {
        let dir = try FileSupport.folder()
        let socketPath = dir + "/s.h5"
        if FileSupport.makeSocket(socketPath) {
            let error = try #require(throws: ArchiveError.self) { try AtomicFile.write(bytes: [1], to: socketPath) }
            #expect(error.description.hasSuffix("is a socket, not a regular file; CNNKit replaces only regular files"))
        }
        try FileManager.default.createDirectory(atPath: dir + "/d.h5", withIntermediateDirectories: false)
        let error = try #require(throws: ArchiveError.self) { try AtomicFile.write(bytes: [1], to: dir + "/d.h5") }
        #expect(error.category == .cannotCreateOutput)
        #expect(error.description.contains("is a folder"))
    }

    @Test("a symbolic link to a device is refused, naming the target")
    func linkToFIFO() throws {
        let dir = try FileSupport.folder()
        #expect(mkfifo(dir + "/pipe", 0o644) == 0)
        #expect(symlink("pipe", dir + "/out.h5") == 0)
        let error = try #require(throws: ArchiveError.self) { try AtomicFile.write(bytes: [1], to: dir + "/out.h5") }
        #expect(error.description == "\(dir)/out.h5: cannot create: symbolic link to \(dir)/pipe: is a FIFO (named pipe), not a regular file; CNNKit replaces only regular files")
    }

    @Test("a symbolic link loop at the destination says so")
    func loop() throws {
        let dir = try FileSupport.folder()
        #expect(symlink("b", dir + "/a") == 0)
        #expect(symlink("a", dir + "/b") == 0)
        let error = try #require(throws: ArchiveError.self) { try AtomicFile.write(bytes: [1], to: dir + "/a") }
        #expect(error.description == "\(dir)/a: cannot create: symbolic link loop (too many levels of symbolic links)")
    }

    @Test("writing through a relative symbolic link replaces its target; the link stays a link")
    func relativeLink() throws {
        let dir = try FileSupport.folder()
        try FileManager.default.createDirectory(atPath: dir + "/models", withIntermediateDirectories: false)
        try FileManager.default.createDirectory(atPath: dir + "/links", withIntermediateDirectories: false)
        try AtomicFile.write(bytes: [9], to: dir + "/models/m.cnnz")
        // Relative to the link's folder, not to the working directory.
        #expect(symlink("../models/m.cnnz", dir + "/links/current.cnnz") == 0)
        try AtomicFile.write(bytes: [1, 2, 3], to: dir + "/links/current.cnnz")
        #expect(FileSupport.isSymlink(dir + "/links/current.cnnz"))
        #expect(FileSupport.contents(dir + "/models/m.cnnz") == [1, 2, 3])
        #expect(try FileSupport.entries(dir + "/links") == ["current.cnnz"])
        #expect(try FileSupport.entries(dir + "/models") == ["m.cnnz"])
    }

    @Test("a chain of links is followed to the end; an absolute link works")
    func chain() throws {
        let dir = try FileSupport.folder()
        try AtomicFile.write(bytes: [9], to: dir + "/real.h5")
        #expect(symlink(dir + "/real.h5", dir + "/one") == 0)
        #expect(symlink("one", dir + "/two") == 0)
        try AtomicFile.write(bytes: [4, 5], to: dir + "/two")
        #expect(FileSupport.isSymlink(dir + "/one") && FileSupport.isSymlink(dir + "/two"))
        #expect(FileSupport.contents(dir + "/real.h5") == [4, 5])
    }

    @Test("a dangling symbolic link creates its target")
    func dangling() throws {
        let dir = try FileSupport.folder()
        #expect(symlink("new.cnnz", dir + "/link.cnnz") == 0)
        try AtomicFile.write(bytes: [7], to: dir + "/link.cnnz")
        #expect(FileSupport.isSymlink(dir + "/link.cnnz"))
        #expect(FileSupport.contents(dir + "/new.cnnz") == [7])
        #expect(FileSupport.mode(dir + "/new.cnnz") == 0o644)
    }

    @Test("a missing folder is a cannot-create error naming it")
    func missingFolder() throws {
        let error = try #require(throws: ArchiveError.self) { try AtomicFile.write(bytes: [1], to: "/nonexistent-folder/x.bin") }
        #expect(error.category == .cannotCreateOutput)
        #expect(error.description == "/nonexistent-folder/x.bin: cannot create: folder /nonexistent-folder: No such file or directory")
    }
}

@Suite("Atomic writes: permissions and leftovers")
struct AtomicPermissionTests {
    @Test("an existing file keeps its mode (0640, 0600, 0755); a new one gets 0644", arguments: [0o640, 0o600, 0o755, 0o444] as [mode_t])
    func keepsMode(mode: mode_t) throws {
        let dir = try FileSupport.folder()
        let path = dir + "/out.h5"
        try AtomicFile.write(bytes: [1], to: path)
        #expect(FileSupport.mode(path) == 0o644)
        #expect(chmod(path, mode) == 0)
        try AtomicFile.write(bytes: [2, 3], to: path)
        #expect(FileSupport.mode(path) == mode)
        try AtomicFile.write(to: path, naming: .named) { temp in try AtomicFile.fill(temp, with: [4], for: path) }
        #expect(FileSupport.mode(path) == mode)
        #expect(FileSupport.contents(path) == [4])
    }

    @Test("an existing file keeps its owner and group when we may set them", .enabled(if: FileSupport.isRoot, "chown needs root"))
    func keepsOwner() throws {
        let dir = try FileSupport.folder()
        let path = dir + "/out.h5"
        try AtomicFile.write(bytes: [1], to: path)
        #expect(chown(path, 65534, 65534) == 0)
        try AtomicFile.write(bytes: [2], to: path)
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_uid == 65534 && info.st_gid == 65534)
    }

    #if os(Linux)
    @Test("on Linux the temporary file has no name: the folder shows nothing while the body writes")
    func unnamed() throws {
        let dir = try FileSupport.folder()
        let path = dir + "/out.cnnz"
        try AtomicFile.write(bytes: [1], to: path)
        var seen: [String] = [], given = ""
        try AtomicFile.write(to: path) { temp in
            given = temp
            try AtomicFile.fill(temp, with: Array(repeating: 5, count: 1 << 20), for: path)
            seen = try FileSupport.entries(dir)
        }
        #expect(given.hasPrefix("/proc/self/fd/"))
        #expect(seen == ["out.cnnz"])
        #expect(FileSupport.contents(path)?.count == 1 << 20)
        #expect(try FileSupport.entries(dir) == ["out.cnnz"])
    }
    #endif

    @Test("a named temporary is .NAME.cnnkit-tmp-PID-XXXXXX beside the destination, and gone after")
    func named() throws {
        let dir = try FileSupport.folder()
        let path = dir + "/out.h5"
        var given = ""
        try AtomicFile.write(to: path, naming: .named) { temp in
            given = temp
            try AtomicFile.fill(temp, with: [1, 2], for: path)
        }
        #expect(given.hasPrefix("\(dir)/.out.h5.cnnkit-tmp-\(getpid())-"))
        #expect(try FileSupport.entries(dir) == ["out.h5"])
        #expect(FileSupport.contents(path) == [1, 2])
    }

    @Test("a write removes the temporaries of dead writers for the same destination, and only those")
    func removesStale() throws {
        let dir = try FileSupport.folder()
        let path = dir + "/out.h5"
        // No process has PID 2^31-2 (Linux pid_max is at most 2^22); PID 1 is alive.
        let stale = ".out.h5.cnnkit-tmp-2147483646-AbC123", live = ".out.h5.cnnkit-tmp-1-XyZ789"
        let other = ".other.h5.cnnkit-tmp-2147483646-AbC123", old = ".out.h5.tmp-AbC123"
        for name in [stale, live, other, old] { #expect(FileManager.default.createFile(atPath: dir + "/" + name, contents: Data([1]))) }
        try AtomicFile.write(bytes: [3], to: path)
        #expect(try FileSupport.entries(dir) == [live, old, other, "out.h5"].sorted())
        // The named path cleans too.
        #expect(FileManager.default.createFile(atPath: dir + "/" + stale, contents: Data([1])))
        try AtomicFile.write(to: path, naming: .named) { temp in try AtomicFile.fill(temp, with: [4], for: path) }
        #expect(try FileSupport.entries(dir) == [live, old, other, "out.h5"].sorted())
    }

    @Test("a failing body leaves the destination and the folder as they were", arguments: [TemporaryFile.Naming.unnamedIfPossible, .named])
    func failure(naming: TemporaryFile.Naming) throws {
        struct Boom: Error {}
        let dir = try FileSupport.folder()
        let path = dir + "/out.bin"
        try AtomicFile.write(bytes: [9], to: path)
        #expect(chmod(path, 0o640) == 0)
        #expect(throws: Boom.self) {
            try AtomicFile.write(to: path, naming: naming) { temp in
                try AtomicFile.fill(temp, with: [1, 2, 3], for: path)
                throw Boom()
            }
        }
        #expect(FileSupport.contents(path) == [9])
        #expect(FileSupport.mode(path) == 0o640)
        #expect(try FileSupport.entries(dir) == ["out.bin"])
    }
}

@Suite("Temporary files")
struct TemporaryFileTests {
    @Test("a temporary file removes itself", arguments: [TemporaryFile.Naming.unnamedIfPossible, .named])
    func removesItself(naming: TemporaryFile.Naming) throws {
        let dir = try FileSupport.folder()
        var path = ""
        do {
            let temp = try TemporaryFile(in: dir, base: "scratch", naming: naming)
            path = temp.path
            try [UInt8]([4, 5]).withUnsafeBytes { try FileIO.writeAll(temp.descriptor, $0) }
            #expect(FileSupport.contents(temp.path) == [4, 5])
            #if os(Linux)
            #expect(try FileSupport.entries(dir) == (naming == .named ? [String(temp.path.split(separator: "/").last!)] : []))
            #endif
        }
        #expect(!path.isEmpty)
        #expect(try FileSupport.entries(dir) == [])
    }
}

@Suite("Input files")
struct InputFileTests {
    @Test("a regular file, also through a symbolic link, is read")
    func regular() throws {
        let dir = try FileSupport.folder()
        try AtomicFile.write(bytes: [1, 2, 3, 4], to: dir + "/a")
        #expect(symlink("a", dir + "/l") == 0)
        #expect(InputFile.refusal(dir + "/l") == nil)
        #expect(try InputFile.read(dir + "/l") == [1, 2, 3, 4])
        #expect(try InputFile.read(dir + "/a", limit: 2, whole: false) == [1, 2])
    }

    @Test("a FIFO is refused within a second, naming it and its kind")
    func fifo() throws {
        let dir = try FileSupport.folder()
        let path = dir + "/in.h5"
        #expect(mkfifo(path, 0o644) == 0)
        let start = ContinuousClock.now
        let message = BlockingGuard.withinSeconds(2, releasing: path) {
            do {
                return "read \(try InputFile.read(path).count) bytes"
            } catch {
                return "\(error) [\((error as? ArchiveError)?.category == .missingInput)]"
            }
        }
        #expect(message == "\(path): cannot open: is a FIFO (named pipe), not a regular file [true]")
        #expect(ContinuousClock.now - start < .seconds(1))
    }

    @Test("devices, sockets and folders are refused")
    func others() throws {
        #expect(InputFile.refusal("/dev/null")?.reason == "is a character device, not a regular file")
        let dir = try FileSupport.folder()
        #expect(InputFile.refusal(dir)?.reason == "is a folder")
        if FileSupport.makeSocket(dir + "/s") {
            #expect(InputFile.refusal(dir + "/s")?.reason == "is a socket, not a regular file")
        }
        let error = try #require(throws: ArchiveError.self) { try InputFile.read("/dev/zero") }
        #expect(error.description == "/dev/zero: cannot open: is a character device, not a regular file")
    }

    @Test("a symbolic link loop says so; a missing file and a dangling link are missing")
    func loopAndMissing() throws {
        let dir = try FileSupport.folder()
        #expect(symlink("b", dir + "/a") == 0)
        #expect(symlink("a", dir + "/b") == 0)
        #expect(InputFile.refusal(dir + "/a") == InputFile.Refusal(reason: "symbolic link loop (too many levels of symbolic links)", missing: false))
        #expect(InputFile.refusal(dir + "/none") == InputFile.Refusal(reason: "no such file", missing: true))
        #expect(symlink("none", dir + "/dangling") == 0)
        #expect(InputFile.refusal(dir + "/dangling") == InputFile.Refusal(reason: "no such file (dangling symbolic link)", missing: true))
    }
}

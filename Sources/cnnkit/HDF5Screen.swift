#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import HDF5Format
import ModelFiles

/// Reads every HDF5 input in a child process of this binary before libhdf5 touches it in this one
/// (`Documentation/cli.md`, "Robustness"): libhdf5 1.10 crashes on some damaged files (a segmentation fault in
/// `H5HG_read`), and a crash in the child costs nothing. The child (`cnnkit __hdf5-screen PATH NAME`) reads
/// every object, attribute and dataset (``HDF5Library/readEverything(path:name:failed:)``), then, for a `.h5` or
/// `.weights.h5` model, every tensor as the reader reads it, under a memory limit (`RLIMIT_AS`), the same
/// watchdog as this process, and a deadline this process enforces with `SIGKILL`.
///
/// - The child ends 0 (read) or 1 (libhdf5 or CNNKit refused the file): this process goes on and its reader
///   gives the same answer as always (exit 1 means the reader's own error follows).
/// - Anything else (a signal, the watchdog's stall, a libhdf5 allocation over the memory limit (exit 3), the
///   deadline) is
///   ``HDF5Error/screeningFailed(file:reason:)``: exit 65, naming the file and how the child ended.
///
/// Each file is screened once per process (by device, inode, size and modification time).
/// `CNNKIT_HDF5_SCREEN=off` turns screening off (for diagnosis: a crashing file then crashes this process).
enum HDF5Screen {
    /// The hidden subcommand the child runs.
    static let command = "__hdf5-screen"

    /// Installs the screen unless `CNNKIT_HDF5_SCREEN` is `off`; exits 64 for another value than `on`/`off`.
    static func install() {
        switch ProcessInfo.processInfo.environment["CNNKIT_HDF5_SCREEN"] {
        case nil, "on": HDF5Library.screen = { path, name in try screen(path: path, name: name) }
        case "off": HDF5Library.screen = nil
        case let other?:
            printError("CNNKIT_HDF5_SCREEN: expected on or off, found '\(other)'")
            exit(Exit.usage)
        }
    }

    // MARK: The child

    /// The child's exit codes besides the watchdog's (65 after a stall).
    private enum ChildExit {
        static let read: Int32 = 0
        static let refused: Int32 = 1
        static let outOfMemory: Int32 = 3
    }

    /// Runs the child: `arguments` are PATH and NAME. Never returns.
    static func runChild(_ arguments: [String]) -> Never {
        guard arguments.count == 2 else {
            printError("\(command): expected PATH NAME")
            exit(Exit.usage)
        }
        var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = setrlimit(resourceCore, &noCore)
        var info = stat()
        let size = stat(arguments[0], &info) == 0 ? Int(clamping: info.st_size) : 0
        var memory = rlimit(rlim_cur: rlim_t(memoryLimit(fileSize: size)), rlim_max: rlim_t(memoryLimit(fileSize: size)))
        _ = setrlimit(resourceAddressSpace, &memory)
        HDF5Library.screen = nil
        var failures: [String] = []
        HDF5Library.readEverything(path: arguments[0], name: arguments[1]) { failures.append("\($0)") }
        // The walk reaches objects by iterating groups; a reader looks them up by name, which works in some
        // damaged groups that cannot be iterated. So a model file is also read as the reader reads it.
        if let format = try? ModelFiles.format(of: arguments[0]), ["h5", "weights.h5"].contains(format.rawValue) {
            do {
                let model = try ModelFiles.open(arguments[0]).model
                for descriptor in model.parameters + model.slots { _ = try model.fetch(descriptor) }
            } catch {
                failures.append("\(error)")
            }
        }
        // libhdf5 failed to allocate within the limit: without the limit it would take that memory.
        if let memory = failures.first(where: { $0.contains("memory allocation failed") }) {
            printError(memory)
            exit(ChildExit.outOfMemory)
        }
        if let first = failures.first {
            printError(first)
            exit(ChildExit.refused)
        }
        exit(ChildExit.read)
    }

    /// The child's address-space limit: 4 GiB plus four times the file (a reader of a legitimate file needs
    /// about one dataset's slab and libhdf5's chunk cache; the runtime reserves a few hundred MiB of address
    /// space). `CNNKIT_HDF5_SCREEN_MEMORY` (bytes) overrides it.
    static func memoryLimit(fileSize: Int) -> Int {
        if let text = ProcessInfo.processInfo.environment["CNNKIT_HDF5_SCREEN_MEMORY"], let bytes = Int(text), bytes > 0 { return bytes }
        let (scaled, overflow) = fileSize.multipliedReportingOverflow(by: 4)
        return overflow ? Int.max : (4 << 30) &+ scaled
    }

    #if os(Linux)
    private static let resourceCore = __rlimit_resource_t(RLIMIT_CORE.rawValue)
    private static let resourceAddressSpace = __rlimit_resource_t(RLIMIT_AS.rawValue)
    #else
    private static let resourceCore = RLIMIT_CORE
    private static let resourceAddressSpace = RLIMIT_AS
    #endif

    // MARK: The parent

    /// Files screened already in this process.
    private struct Identity: Hashable {
        var device: UInt64, inode: UInt64, size: Int64, modified: Int64, modifiedNanoseconds: Int64
    }

    /// What screening each file gave: nil when it may be read, else the error (thrown again, not screened again:
    /// format detection and the reader may both open a file).
    nonisolated(unsafe) private static var screened: [Identity: HDF5Error?] = [:]
    private static let lock = NSLock()

    static func screen(path: String, name: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { return } // the open reports it
        #if os(Linux)
        let identity = Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                                modified: Int64(info.st_mtim.tv_sec), modifiedNanoseconds: Int64(info.st_mtim.tv_nsec))
        #else
        let identity = Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                                modified: Int64(info.st_mtimespec.tv_sec), modifiedNanoseconds: Int64(info.st_mtimespec.tv_nsec))
        #endif
        if let known = lock.withLock({ screened[identity] }) {
            if let error = known { throw error }
            return
        }
        do {
            try screenOnce(path: path, name: name, size: Int(clamping: info.st_size))
            lock.withLock { screened[identity] = .some(nil) }
        } catch let error as HDF5Error {
            lock.withLock { screened[identity] = .some(error) }
            throw error
        }
    }

    private static func screenOnce(path: String, name: String, size: Int) throws {
        let limit = HDF5Library.timeLimit ?? .standard
        // The child's own watchdog stops a stuck call; the deadline is for everything else (start-up, a child
        // stopped in a loop outside libhdf5), with room for the child's many calls.
        let deadline = limit.seconds(forBytes: size) * 2 + 10
        let outcome = try run(path: path, name: name, deadline: deadline)
        switch outcome.ending {
        case .exited(ChildExit.read), .exited(ChildExit.refused):
            return
        case .exited(ChildExit.outOfMemory):
            let memory = memoryLimit(fileSize: size)
            throw HDF5Error.screeningFailed(file: name, reason: "damaged: reading it needs more than the screening process's memory limit of \(memory / 1_048_576) MiB (\(outcome.stderr))")
        case .exited(Exit.dataError) where outcome.stderr.hasPrefix(name + ": libhdf5 did not finish reading within "):
            // The watchdog stopped the child: end as the watchdog would have ended this process, with its line
            // and nothing else (no report), its temporaries removed.
            HDF5Library.removeRegisteredTemporaries()
            printError(outcome.stderr)
            exit(Exit.dataError)
        case let .exited(code):
            let said = outcome.stderr.isEmpty ? "" : ": " + outcome.stderr
            throw HDF5Error.screeningFailed(file: name, reason: "damaged: reading it in a screening process ended with exit \(code)\(said)")
        case let .signaled(signal):
            throw HDF5Error.screeningFailed(file: name, reason: "damaged: libhdf5 crashed reading it (\(signalName(signal))) in a screening process; this process read nothing of it")
        case .timedOut:
            throw HDF5Error.screeningFailed(file: name, reason: String(format: "damaged: reading it in a screening process did not end within %.0f s (killed)", deadline))
        }
    }

    private enum Ending: Equatable {
        case exited(Int32)
        case signaled(Int32)
        case timedOut
    }

    /// Spawns the child with stdin and stdout on /dev/null and stderr into a pipe, and waits for it until the
    /// deadline (then kills it).
    private static func run(path: String, name: String, deadline: Double) throws -> (ending: Ending, stderr: String) {
        let executable = Bundle.main.executablePath ?? CommandLine.arguments[0]
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else {
            throw HDF5Error.screeningFailed(file: name, reason: "cannot start the screening process: pipe: \(String(cString: strerror(errno)))")
        }
        defer { close(pipeEnds[0]) }
        _ = fcntl(pipeEnds[0], F_SETFL, fcntl(pipeEnds[0], F_GETFL) | O_NONBLOCK)
        _ = fcntl(pipeEnds[0], F_SETFD, FD_CLOEXEC)

        #if os(Linux)
        var actions = posix_spawn_file_actions_t()
        #else
        var actions: posix_spawn_file_actions_t?
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 2)
        posix_spawn_file_actions_addclose(&actions, pipeEnds[1])

        let arguments = [executable, command, path, name]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        // The child's crash is expected and reported here: no Swift backtrace (it takes a second or more).
        var environment: [UnsafeMutablePointer<CChar>?] = [strdup("SWIFT_BACKTRACE=enable=no")]
        var entry = environ
        while let variable = entry.pointee {
            if strncmp(variable, "SWIFT_BACKTRACE=", 16) != 0 { environment.append(strdup(variable)) }
            entry += 1
        }
        environment.append(nil)
        defer { environment.forEach { free($0) } }
        let spawned = posix_spawn(&child, executable, &actions, nil, &argv, &environment)
        close(pipeEnds[1])
        guard spawned == 0 else {
            throw HDF5Error.screeningFailed(file: name, reason: "cannot start the screening process \(executable): \(String(cString: strerror(spawned)))")
        }

        var said: [UInt8] = []
        func drain() {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(pipeEnds[0], &buffer, buffer.count)
                guard n > 0 else { return }
                if said.count < 4096 { said += buffer[..<min(n, 4096 - said.count)] }
            }
        }
        let start = Date()
        var pause: useconds_t = 500
        var status: Int32 = 0
        while true {
            drain()
            let waited = waitpid(child, &status, WNOHANG)
            if waited == child { break }
            if waited < 0 && errno != EINTR {
                throw HDF5Error.screeningFailed(file: name, reason: "waiting for the screening process: \(String(cString: strerror(errno)))")
            }
            if Date().timeIntervalSince(start) > deadline {
                kill(child, SIGKILL)
                while waitpid(child, &status, 0) < 0 && errno == EINTR {}
                return (.timedOut, text(said))
            }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
        drain()
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import.
        let ending: Ending = (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
        return (ending, text(said))
    }

    /// The child's stderr as one line, without the `cnnkit: ` prefix of its messages.
    private static func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.hasPrefix("cnnkit: ") ? String($0.dropFirst(8)) : String($0) }.joined(separator: " ")
    }

    private static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGSEGV: "SIGSEGV"
        case SIGBUS: "SIGBUS"
        case SIGABRT: "SIGABRT"
        case SIGFPE: "SIGFPE"
        case SIGILL: "SIGILL"
        case SIGTRAP: "SIGTRAP"
        default: "signal \(signal)"
        }
    }
}

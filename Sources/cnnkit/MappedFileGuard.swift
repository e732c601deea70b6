#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns a `SIGBUS` while a model file is mapped (`predict` on a raw CNNZ file) into a message naming the
/// file and exit status 65, instead of a silent crash: the kernel raises it when the file was truncated after
/// it was opened and checked, and a page that no longer exists is touched. Nothing can be read from such a
/// page, so the process cannot continue; the handler only writes and exits (async-signal-safe calls only).
enum MappedFileGuard {
    /// The message, prepared before the handler can run (the handler must not allocate).
    nonisolated(unsafe) private static var message: [UInt8] = []

    /// Installs the handler for `path`.
    static func install(path: String) {
        message = Array("cnnkit: \(path): the file changed size while it was mapped (SIGBUS); its tensors can no longer be read\n".utf8)
        var action = sigaction()
        #if canImport(Glibc)
        action.__sigaction_handler.sa_handler = { _ in
            MappedFileGuard.message.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
            _exit(65)
        }
        #else
        action.__sigaction_u.__sa_handler = { _ in
            MappedFileGuard.message.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
            _exit(65)
        }
        #endif
        sigemptyset(&action.sa_mask)
        sigaction(SIGBUS, &action, nil)
    }
}

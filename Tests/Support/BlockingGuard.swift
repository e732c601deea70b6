import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A guard against a read that blocks on a FIFO, for the tests of the input checks.
public enum BlockingGuard {
    final class Box: @unchecked Sendable {
        var value: String?
    }

    /// Runs `body` on its own thread and waits at most `seconds`; a body still running then (blocked in an
    /// open or read of the FIFO) is released by opening the FIFO for writing and closing it, and the result is
    /// nil. So a regression fails the test instead of hanging it.
    public static func withinSeconds(_ seconds: Double, releasing fifo: String, _ body: @escaping @Sendable () -> String) -> String? {
        let done = DispatchSemaphore(value: 0)
        let box = Box()
        Thread.detachNewThread {
            box.value = body()
            done.signal()
        }
        if done.wait(timeout: .now() + seconds) == .success { return box.value }
        for _ in 0..<50 {
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
            if done.wait(timeout: .now() + 0.1) == .success { break }
        }
        return nil
    }
}

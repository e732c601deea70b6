import Foundation

/// Runs work on a tensor's chunks on a fixed number of threads (`Schemas/cnnz.md` sections 6 and 9): thread `t`
/// takes chunks `t`, `t + threads`, ..., so at most `threads` chunks are being worked on at once and the result
/// does not depend on the thread count.
public enum ChunkParallelism {
    /// Every core the process may use.
    public static var defaultThreads: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// Calls `body(k)` for every `k` in `0..<count` on up to `threads` threads and returns the first error in
    /// chunk order (all chunks are attempted). `body` must only touch state of its own chunk.
    static func forEach(_ count: Int, threads: Int, _ body: (Int) throws -> Void) throws {
        let workers = min(max(threads, 1), count)
        guard workers > 1 else {
            for k in 0..<count { try body(k) }
            return
        }
        var failures = [(any Error)?](repeating: nil, count: count)
        try withoutActuallyEscaping(body) { body in
            failures.withUnsafeMutableBufferPointer { slots in
                // Each iteration writes only the slots of its own chunks.
                let shared = UncheckedSendable((body, slots))
                DispatchQueue.concurrentPerform(iterations: workers) { t in
                    let (body, slots) = shared.value
                    for k in stride(from: t, to: count, by: workers) {
                        do { try body(k) } catch { slots[k] = error }
                    }
                }
            }
            if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
        }
    }
}

/// Shares a value across the threads of ``ChunkParallelism/forEach(_:threads:_:)``, which touch disjoint memory.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

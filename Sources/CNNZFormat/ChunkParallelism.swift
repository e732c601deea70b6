import Foundation

/// Runs work on a tensor's chunks on a fixed number of threads (`Schemas/cnnz.md` sections 6 and 9): each
/// thread takes the next chunk not yet taken, so at most `threads` chunks are being worked on at once. Every
/// chunk is coded on its own, so the result does not depend on the thread count or on which thread took it.
public enum ChunkParallelism {
    /// Every core the process may use.
    public static var defaultThreads: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// Calls `body(worker, k)` for every `k` in `0..<count` on up to `threads` threads (`worker` in
    /// `0..<threads` names the calling thread, for its scratch memory) and returns the first error in chunk
    /// order (all chunks are attempted). `body` must only touch state of its own chunk and its worker.
    static func forEach(_ count: Int, threads: Int, _ body: (_ worker: Int, _ k: Int) throws -> Void) throws {
        let workers = min(max(threads, 1), count)
        guard workers > 1 else {
            for k in 0..<count { try body(0, k) }
            return
        }
        var failures = [(any Error)?](repeating: nil, count: count)
        let next = ChunkCounter()
        try withoutActuallyEscaping(body) { body in
            failures.withUnsafeMutableBufferPointer { slots in
                // Each iteration writes only the slots of the chunks it took.
                let shared = UncheckedSendable((body, slots))
                DispatchQueue.concurrentPerform(iterations: workers) { t in
                    let (body, slots) = shared.value
                    while let k = next.take(below: count) {
                        do { try body(t, k) } catch { slots[k] = error }
                    }
                }
            }
            if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
        }
    }

    /// Calls `body(k)` for every `k` in `0..<count` on up to `threads` threads.
    static func forEach(_ count: Int, threads: Int, _ body: (Int) throws -> Void) throws {
        try forEach(count, threads: threads) { _, k in try body(k) }
    }
}

/// Hands out chunk numbers in order to the threads of ``ChunkParallelism/forEach(_:threads:_:)-5h0xs``.
final class ChunkCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0

    func take(below count: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < count else { return nil }
        next += 1
        return next - 1
    }
}

/// Per-thread ``ChunkCoder``s that live as long as their owner (a writer or a reader), so the buffers and zstd
/// contexts of one tensor's chunks serve the next tensor too. Thread-safe: a reader may read tensors from
/// several threads; each call of ``withCoders(_:_:)`` borrows coders no other call holds.
final class ChunkCoderPool: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [ChunkCoder] = []

    /// Runs `body` with `count` coders of its own, returned to the pool afterwards.
    func withCoders<R>(_ count: Int, _ body: ([ChunkCoder]) throws -> R) rethrows -> R {
        lock.lock()
        let taken = Array(idle.suffix(count))
        idle.removeLast(taken.count)
        lock.unlock()
        let coders = taken + (0..<(count - taken.count)).map { _ in ChunkCoder() }
        defer {
            lock.lock()
            idle.append(contentsOf: coders)
            lock.unlock()
        }
        return try body(coders)
    }
}

/// Shares a value across the threads of ``ChunkParallelism/forEach(_:threads:_:)-5h0xs``, which touch disjoint memory.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

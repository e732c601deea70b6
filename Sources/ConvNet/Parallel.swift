import Dispatch

/// Runs `body(worker)` for `workers` workers at once and waits for all. With one worker it runs inline.
///
/// Work is split by the caller in a way that does not depend on the worker count, so results stay bitwise the same.
func runWorkers(_ workers: Int, _ body: (Int) -> Void) {
    if workers <= 1 {
        body(0)
        return
    }
    withoutActuallyEscaping(body) { escaping in
        let box = UncheckedSendable(escaping)
        DispatchQueue.concurrentPerform(iterations: workers) { box.value($0) }
    }
}

/// Wraps a value that is shared across worker threads in a way the caller has made safe (disjoint writes).
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

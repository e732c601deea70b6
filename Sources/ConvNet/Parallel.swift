import Dispatch
import Synchronization

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

/// Runs `body(worker, task)` for every task in `0..<tasks` on `workers` workers, each taking the next task not yet
/// taken (a shared counter), so a worker slowed by other load on the machine takes fewer tasks. Callers make each
/// task's result independent of the worker that runs it (per-worker scratch only), so results stay bitwise the same.
func runTasks(_ tasks: Int, workers: Int, _ body: (_ worker: Int, _ task: Int) -> Void) {
    let next = Atomic<Int>(0)
    runWorkers(min(workers, tasks)) { worker in
        while true {
            let task = next.wrappingAdd(1, ordering: .relaxed).oldValue
            if task >= tasks { return }
            body(worker, task)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Set by the SIGINT handler; the training loop checks it after each step.
let interruptRequested = Atomic<Bool>(false)

/// Installs a SIGINT handler that asks training to stop after the current step (a second Ctrl-C kills).
func installInterruptHandler() {
    signal(SIGINT) { _ in
        if interruptRequested.load(ordering: .relaxed) {
            signal(SIGINT, SIG_DFL)
            raise(SIGINT)
        }
        interruptRequested.store(true, ordering: .relaxed)
    }
}

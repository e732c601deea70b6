#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The signal that asked training to stop (SIGINT or SIGTERM), 0 while none has; the training loop checks it
/// after each step.
let stopSignal = Atomic<Int32>(0)

/// Installs SIGINT (Ctrl-C) and SIGTERM (a scheduler's notice before preemption) handlers that ask training to
/// stop after the current step; a second signal of either kind kills at once.
func installInterruptHandler() {
    for number in [SIGINT, SIGTERM] {
        signal(number) { received in
            if stopSignal.load(ordering: .relaxed) != 0 {
                signal(received, SIG_DFL)
                raise(received)
            }
            stopSignal.store(received, ordering: .relaxed)
        }
    }
}

import Foundation
import ModelArchive

/// Progress of a long command that is not training (`convert`, `verify`, `evaluate`, `report`, `show`): one
/// line on stderr, from half a second in, redrawn in place every 200 ms with the stage, the tensors read so far and the elapsed time,
/// and erased when the command ends.
///
/// It draws only when both stdout and stderr are terminals and the command prints no `--json`: piped or
/// redirected output, logs and JSON documents never see it (`Documentation/cli.md`, "Progress").
final class StageProgress: @unchecked Sendable {
    let enabled: Bool
    private let command: String
    private let lock = NSLock()
    private var stageText = ""
    private var tensorsRead = 0
    private var lastTensor = ""
    private var drawn = false
    private var finished = false
    private let started = ContinuousClock.now
    private var ticker: Thread?

    /// - Parameter json: the command prints a JSON document (progress stays off).
    init(command: String, json: Bool = false) {
        self.command = command
        enabled = !json && isatty(STDOUT_FILENO) == 1 && isatty(STDERR_FILENO) == 1
        guard enabled else { return }
        let thread = Thread { [weak self] in
            // Nothing for commands done within half a second: no line flashes up and vanishes.
            for _ in 0..<10 {
                Thread.sleep(forTimeInterval: 0.05)
                if self?.isFinished ?? true { return }
            }
            while let self, !self.isFinished {
                self.draw()
                Thread.sleep(forTimeInterval: 0.2)
            }
        }
        ticker = thread
        thread.start()
    }

    deinit { finish() }

    private var isFinished: Bool { lock.withLock { finished } }

    /// Starts a new stage (`reading big.cnnz`).
    func stage(_ text: String) {
        lock.withLock { stageText = text }
    }

    /// The same model, counting each tensor read for the progress line.
    func counting(_ model: StreamedModel) -> StreamedModel {
        guard enabled else { return model }
        var counted = model
        let read = model.tensor
        counted.tensor = { [self] name in
            lock.withLock {
                tensorsRead += 1
                lastTensor = name
            }
            return try read(name)
        }
        return counted
    }

    /// Draws the line; under the lock, so that no draw can land after ``finish()`` erased the line.
    private func draw() {
        lock.withLock {
            guard !finished else { return }
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let tensors = tensorsRead == 0 ? "" : "  \(tensorsRead) tensors read (last \(lastTensor))"
            drawn = true
            printProgress(String(format: "\r\u{1B}[K%@: %@%@  %.1fs", command, stageText, tensors, seconds))
        }
    }

    /// Erases the line and stops redrawing; call before printing the result.
    func finish() {
        lock.withLock {
            if drawn && !finished { printProgress("\r\u{1B}[K") }
            finished = true
        }
    }
}

import ConvNet
import Foundation

/// Progress on stderr: a bar with rate and ETA on a terminal, one line per epoch otherwise.
final class ProgressReporter {
    let isTerminal: Bool
    let quiet: Bool
    private let clock = ContinuousClock()
    private var epochStart: ContinuousClock.Instant
    private var lastDraw: ContinuousClock.Instant
    private var startPosition = 0

    init(quiet: Bool) {
        self.quiet = quiet
        isTerminal = isatty(STDERR_FILENO) == 1
        epochStart = clock.now
        lastDraw = clock.now
    }

    func step(_ p: TrainingProgress) {
        guard !quiet, isTerminal else { return }
        let now = clock.now
        if p.position == p.epochSize || (now - lastDraw) > .milliseconds(200) {
            lastDraw = now
            let elapsed = max((now - epochStart).seconds, 1e-9)
            let done = p.position - startPosition
            let rate = Double(done) / elapsed
            let eta = rate > 0 ? Double(p.epochSize - p.position) / rate : 0
            let width = 30
            let filled = Int(Double(width) * Double(p.position) / Double(max(p.epochSize, 1)))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let line = String(format: "\repoch %d/%d [%@] %d/%d  loss %.4f  acc %.2f%%  %.0f img/s  ETA %.0fs ",
                              p.epoch + 1, p.totalEpochs, bar, p.position, p.epochSize, p.runningLoss, p.runningAccuracy * 100, rate, eta)
            printProgress(line)
        }
    }

    /// Ends a bar drawn in place, so that an error starts on its own line.
    func abandonLine() {
        if !quiet && isTerminal { printProgress("\n") }
    }

    func epochDone(epoch: Int, total: Int, record: EpochRecord) {
        guard !quiet else { return }
        let elapsed = (clock.now - epochStart).seconds
        let test = record.testAccuracy.map { String(format: ", test accuracy %.2f%%", $0 * 100) } ?? ""
        let line = String(format: "epoch %d/%d: loss %.4f, train accuracy %.2f%%%@ (%.1fs)\n",
                          epoch, total, record.loss, record.trainAccuracy * 100, test, elapsed)
        printProgress((isTerminal ? "\r\u{1B}[K" : "") + line)
        epochStart = clock.now
        startPosition = 0
    }
}

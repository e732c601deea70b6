#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

// libhdf5 cannot be trusted to finish on a damaged file (1.10 loops forever on some damaged global heap
// collections, for instance; CNNKitHDF5Driver refuses those, but there is no proof that nothing else loops). A
// thread stuck inside libhdf5 cannot be stopped, and it holds the library lock; the only way out is to end the
// process. The watchdog does that, for processes that ask for it (the cnnkit tool does; a library user opts in
// by setting ``HDF5Library/timeLimit``).

extension HDF5Library {
    /// How long one libhdf5 call may run before the watchdog ends the process: ``base`` seconds plus
    /// ``perMegabyte`` seconds for each MiB of the largest HDF5 file this process has opened (or the largest
    /// dataset it has written), since a legitimate call on a large file may read or write all of it.
    public struct TimeLimit: Sendable, Equatable, CustomStringConvertible {
        /// Seconds any call may take, however small the file.
        public var base: Double
        /// Seconds added per MiB (2^20 bytes) of the largest file or dataset.
        public var perMegabyte: Double

        /// - Parameters:
        ///   - base: seconds, at least 0.
        ///   - perMegabyte: seconds per MiB, at least 0.
        public init(base: Double = 10, perMegabyte: Double = 0.2) {
            self.base = max(base, 0)
            self.perMegabyte = max(perMegabyte, 0)
        }

        /// 10 s plus 0.2 s per MiB: 10 s for a small model, 20 s for a 50 MiB file, about 215 s for 1 GiB. A
        /// libhdf5 call on a small model takes milliseconds; a legitimate call on a large file would have to move
        /// its data slower than 5 MiB/s to be cut short.
        public static let standard = TimeLimit()

        /// The limit in seconds for calls on files and datasets of up to `bytes` bytes.
        public func seconds(forBytes bytes: Int) -> Double {
            base + perMegabyte * Double(max(bytes, 0)) / 1_048_576
        }

        /// Reads `SECONDS` (the base, with the standard rate per MiB) or `SECONDS,SECONDS_PER_MIB`, as
        /// `CNNKIT_HDF5_TIME_LIMIT` gives them; nil for anything else (negative, not finite, not numbers).
        public init?(parsing text: String) {
            let parts = text.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard (1...2).contains(parts.count),
                  let base = Double(parts[0]), base.isFinite, base >= 0 else { return nil }
            var rate = TimeLimit.standard.perMegabyte
            if parts.count == 2 {
                guard let given = Double(parts[1]), given.isFinite, given >= 0 else { return nil }
                rate = given
            }
            self.init(base: base, perMegabyte: rate)
        }

        /// `10 s + 0.2 s/MiB`.
        public var description: String {
            "\(Stall.seconds(base)) s + \(Stall.seconds(perMegabyte)) s/MiB"
        }
    }

    /// A libhdf5 call that ran longer than the time limit: what the watchdog reports before the process ends.
    public struct Stall: Sendable, Equatable, CustomStringConvertible {
        /// The file being read or written, as messages name it; nil when no call named one yet.
        public var file: String?
        /// The libhdf5 function (`H5Aread`) and the HDF5 path it worked on (`/cnnkit@architecture`): the call
        /// in progress when ``inCall`` is true, else the last call that finished (libhdf5 was then busy in a
        /// call CNNKit does not name, such as closing an object).
        public var call: String?
        public var location: String?
        public var inCall: Bool
        /// Whether the file was being written (then the exit code is 74, else 65).
        public var writing: Bool
        /// The limit that was exceeded, in seconds.
        public var limit: Double

        public init(file: String?, call: String?, location: String?, inCall: Bool, writing: Bool, limit: Double) {
            (self.file, self.call, self.location, self.inCall, self.writing, self.limit) = (file, call, location, inCall, writing, limit)
        }

        /// `m.h5: libhdf5 did not finish reading within 10 s: the file is damaged (HDF5 path /cnnkit@architecture, in H5Aread)`;
        /// for a write, `o.h5: libhdf5 did not finish writing within 10 s (HDF5 path /model_weights/dense, in H5Dwrite)`.
        public var description: String {
            var text = "\(file ?? "an HDF5 file"): libhdf5 did not finish \(writing ? "writing" : "reading") within \(Stall.seconds(limit)) s"
            if !writing { text += ": the file is damaged" }
            if let location, let call {
                text += inCall ? " (HDF5 path \(location), in \(call))" : " (HDF5 path unknown; the last call was \(call) at \(location))"
            }
            return text
        }

        /// The exit code a tool should end with: 65 (EX_DATAERR) for a read, 74 (EX_IOERR) for a write.
        public var exitCode: Int32 { writing ? 74 : 65 }

        /// `20`, `2.5`, `0.25`: seconds to two decimals, without trailing zeros.
        static func seconds(_ value: Double) -> String {
            let rounded = (value * 100).rounded() / 100
            guard rounded.isFinite, abs(rounded) < 1e15 else { return "\(value)" }
            if rounded == rounded.rounded() { return String(Int64(rounded)) }
            var text = String(format: "%.2f", rounded)
            while text.hasSuffix("0") { text.removeLast() }
            return text
        }
    }

    /// The watchdog's limit; nil (the default) means no watchdog. With a limit, the watchdog's thread starts with
    /// the first use of libhdf5 (once); from then on, a libhdf5 call that runs longer than the limit ends the process: the
    /// temporary files registered with ``removeOnStall(_:)`` are removed, ``onStall`` is called with what was
    /// running, and the process exits with `_exit` (code ``Stall/exitCode``), since the thread inside libhdf5
    /// can be neither stopped nor resumed. Time during which the process was stopped (SIGSTOP) or starved of CPU
    /// for over a second is not counted.
    public static var timeLimit: TimeLimit? {
        get { HDF5Watchdog.shared.limit }
        set { HDF5Watchdog.shared.setLimit(newValue) }
    }

    /// Called on the watchdog's thread when a call exceeds ``timeLimit``, right before the process exits; by
    /// default it prints ``Stall/description`` on stderr. It must not use libhdf5 (the stuck thread holds it).
    public static var onStall: @Sendable (Stall) -> Void {
        get { HDF5Watchdog.shared.handler }
        set { HDF5Watchdog.shared.setHandler(newValue) }
    }

    /// Runs `body` with `paths` (temporary files that are incomplete while `body` runs) removed if the watchdog
    /// ends the process meanwhile; registered for `body`'s duration only.
    public static func removeOnStall<T>(_ paths: [String], _ body: () throws -> T) rethrows -> T {
        let tokens = paths.map { HDF5Watchdog.shared.register(temporary: $0) }
        defer { tokens.forEach { HDF5Watchdog.shared.unregister(temporary: $0) } }
        return try body()
    }

    /// Removes the temporary files registered with ``removeOnStall(_:_:)``, as the watchdog does before it ends
    /// the process; for a process that ends itself for the same reason (a stall seen in a screening process).
    package static func removeRegisteredTemporaries() {
        for path in HDF5Watchdog.shared.registeredTemporaries { unlink(path) }
    }

    /// Notes that libhdf5 calls may now move up to `bytes` bytes (a file opened, a dataset written), which
    /// raises the time limit (``TimeLimit/seconds(forBytes:)``) for the rest of the process.
    package static func noteDataSize(_ bytes: Int) {
        HDF5Watchdog.shared.noteDataSize(bytes)
    }

    /// Runs work that is not libhdf5's inside a serialised section (a writer fetching the next tensor from
    /// another reader, which may decompress or check it): the watchdog does not count it, except the serialised
    /// sections it enters itself.
    package static func outsideLibHDF5<T>(_ body: () throws -> T) rethrows -> T {
        HDF5Watchdog.shared.pause()
        defer { HDF5Watchdog.shared.resume() }
        return try body()
    }

    /// Runs one libhdf5 call, recorded (file, call, HDF5 path) so that the watchdog can name it.
    package static func timed<T>(_ check: HDF5Checker, _ call: String, _ location: String, _ body: () -> T) -> T {
        let watchdog = HDF5Watchdog.shared
        watchdog.begin(HDF5Watchdog.Call(file: check.file, call: call, location: location, writing: check.writing))
        defer { watchdog.end() }
        return body()
    }
}

/// Decides when a busy stretch has lasted too long, from periodic observations; no clock of its own, so that it
/// can be tested with any sequence of times.
///
/// Each observation says whether libhdf5 is busy and which activity (a counter that changes whenever a call
/// starts or ends, or a serialised section is entered or left) is running since when. An activity's time is the
/// sum of the steps between observations while it runs, each step counted as at most ``maximumStep`` seconds:
/// a process that was stopped (SIGSTOP, a suspended laptop) or starved of CPU does not find a call "too long"
/// the moment it runs again.
package struct StallClock: Sendable {
    /// The most one step between observations counts, in seconds.
    package var maximumStep: Double
    private var activity: UInt64?
    private var lastObservation: UInt64?
    /// Seconds the current activity has been seen running.
    package private(set) var elapsed: Double = 0

    package init(maximumStep: Double = 1) {
        self.maximumStep = maximumStep
    }

    /// Records one observation at `now` (nanoseconds, monotonic) and tells whether the activity running has
    /// exceeded `limit` seconds.
    ///
    /// - Parameters:
    ///   - busy: whether a libhdf5 section is running.
    ///   - activity: the counter of the activity running.
    ///   - started: when it started (nanoseconds, same clock as `now`).
    package mutating func observe(busy: Bool, activity: UInt64, started: UInt64, now: UInt64, limit: Double) -> Bool {
        defer { lastObservation = now }
        guard busy else {
            self.activity = nil
            elapsed = 0
            return false
        }
        if activity != self.activity {
            // New since the last observation: it ran at most since then, and at most one step's worth.
            self.activity = activity
            elapsed = min(Self.seconds(from: started, to: now), maximumStep)
        } else {
            elapsed += min(lastObservation.map { Self.seconds(from: $0, to: now) } ?? 0, maximumStep)
        }
        return elapsed > limit
    }

    static func seconds(from start: UInt64, to end: UInt64) -> Double {
        end > start ? Double(end - start) / 1e9 : 0
    }
}

/// The watchdog's state and thread. Every field is read and written under ``lock``, held only for a few
/// instructions at a time (never while libhdf5 runs), so the watchdog thread can always take it.
package final class HDF5Watchdog: @unchecked Sendable {
    package static let shared = HDF5Watchdog()

    /// A libhdf5 call as the checker names it.
    package struct Call: Sendable {
        var file: String
        var call: String
        var location: String
        var writing: Bool
    }

    private let lock = NSLock()
    private var limitValue: HDF5Library.TimeLimit?
    private var handlerValue: @Sendable (HDF5Library.Stall) -> Void = { stall in
        HDF5Watchdog.writeToStandardError("\(stall)\n")
    }
    private var threadStarted = false
    /// For each serialised section entered and not yet left (by the one thread holding the library lock), true,
    /// and for each stretch of other work inside one (``HDF5Library/outsideLibHDF5(_:)``), false: libhdf5 is
    /// busy when the innermost is true.
    private var busy: [Bool] = []
    private var activity: UInt64 = 0
    private var activityStart: UInt64 = 0
    private var current: Call?
    private var lastCall: Call?
    private var largestBytes = 0
    private var temporaries: [Int: String] = [:]
    private var nextToken = 0
    private var clock = StallClock()

    /// How often the thread looks, in seconds.
    static let interval = 0.25

    var limit: HDF5Library.TimeLimit? { locked { limitValue } }
    var handler: @Sendable (HDF5Library.Stall) -> Void { locked { handlerValue } }

    func setLimit(_ limit: HDF5Library.TimeLimit?) {
        locked { limitValue = limit }
    }

    func setHandler(_ handler: @escaping @Sendable (HDF5Library.Stall) -> Void) {
        locked { handlerValue = handler }
    }

    // MARK: Marks, from the thread that runs libhdf5

    /// A serialised section starts (``HDF5Library/serialized(_:)``; nested sections count too). The first one
    /// after a limit is set starts the watchdog's thread, so a process that never uses libhdf5 has none.
    package func enterSection() {
        let now = Self.now()
        let start: Bool = locked {
            busy.append(true)
            mark(now)
            guard limitValue != nil, !threadStarted else { return false }
            threadStarted = true
            return true
        }
        if start { startThread() }
    }

    /// A serialised section ends.
    package func leaveSection() {
        let now = Self.now()
        locked {
            _ = busy.popLast()
            mark(now)
        }
    }

    /// Work that is not libhdf5's starts inside a section.
    func pause() {
        let now = Self.now()
        locked {
            busy.append(false)
            mark(now)
        }
    }

    /// That work ends.
    func resume() {
        let now = Self.now()
        locked {
            _ = busy.popLast()
            mark(now)
        }
    }

    func begin(_ call: Call) {
        let now = Self.now()
        locked {
            current = call
            mark(now)
        }
    }

    func end() {
        let now = Self.now()
        locked {
            if let current { lastCall = current }
            current = nil
            mark(now)
        }
    }

    /// Must be called with the lock held.
    private func mark(_ now: UInt64) {
        activity &+= 1
        activityStart = now
    }

    func noteDataSize(_ bytes: Int) {
        locked { largestBytes = max(largestBytes, bytes) }
    }

    func register(temporary path: String) -> Int {
        locked {
            nextToken += 1
            temporaries[nextToken] = path
            return nextToken
        }
    }

    func unregister(temporary token: Int) {
        _ = locked { temporaries.removeValue(forKey: token) }
    }

    // MARK: The watchdog

    /// One look: the stall to report if the activity running has exceeded `limit` (the watchdog's own limit when
    /// nil), else nil. The thread calls it every ``interval``; tests call it with their own times.
    ///
    /// - Parameter now: nanoseconds on the clock of ``now()``.
    package func poll(now: UInt64, limit given: HDF5Library.TimeLimit? = nil) -> HDF5Library.Stall? {
        locked {
            guard let limit = given ?? limitValue else {
                _ = clock.observe(busy: false, activity: activity, started: activityStart, now: now, limit: 0)
                return nil
            }
            let seconds = limit.seconds(forBytes: largestBytes)
            guard clock.observe(busy: busy.last ?? false, activity: activity, started: activityStart, now: now, limit: seconds) else { return nil }
            let call = current ?? lastCall
            return HDF5Library.Stall(file: call?.file, call: call?.call, location: call?.location, inCall: current != nil,
                                     writing: call?.writing ?? false, limit: seconds)
        }
    }

    /// The paths registered with ``HDF5Library/removeOnStall(_:_:)``.
    package var registeredTemporaries: [String] { locked { temporaries.keys.sorted().compactMap { temporaries[$0] } } }

    private func startThread() {
        let thread = Thread { [self] in
            while true {
                Thread.sleep(forTimeInterval: Self.interval)
                guard let stall = poll(now: Self.now()) else { continue }
                HDF5Library.removeRegisteredTemporaries()
                handler(stall)
                _exit(stall.exitCode)
            }
        }
        thread.name = "cnnkit-hdf5-watchdog"
        thread.start()
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Nanoseconds on the monotonic clock.
    package static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }

    /// Writes `text` to file descriptor 2 with `write(2)`, without Foundation's buffers.
    package static func writeToStandardError(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}

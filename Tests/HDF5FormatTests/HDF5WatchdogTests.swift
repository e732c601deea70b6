import Dispatch
import Foundation
import HDF5Format
import Testing

/// The watchdog's decisions, without its thread (which would end the test process): the time limit, the clock
/// that decides when a call has run too long, what a stall reports, and ``HDF5Watchdog/poll(now:limit:)`` on a
/// call held open on another thread.
@Suite("HDF5 watchdog")
struct HDF5WatchdogTests {
    static let second: UInt64 = 1_000_000_000

    @Test("the limit is base seconds plus a rate per MiB of the largest file")
    func limit() {
        let standard = HDF5Library.TimeLimit.standard
        #expect(standard == HDF5Library.TimeLimit(base: 10, perMegabyte: 0.2))
        #expect(standard.seconds(forBytes: 0) == 10)
        #expect(standard.seconds(forBytes: 50 << 20) == 20)
        #expect(abs(standard.seconds(forBytes: 1 << 30) - 214.8) < 1e-9)
        #expect(standard.description == "10 s + 0.2 s/MiB")
        #expect(HDF5Library.TimeLimit(parsing: "2") == HDF5Library.TimeLimit(base: 2, perMegabyte: 0.2))
        #expect(HDF5Library.TimeLimit(parsing: "1.5, 0") == HDF5Library.TimeLimit(base: 1.5, perMegabyte: 0))
        for bad in ["", "x", "-1", "1,-2", "1,2,3", "inf", "nan", "1,"] {
            #expect(HDF5Library.TimeLimit(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test("a call's time is counted between observations, at most one second per step")
    func clock() {
        var clock = StallClock()
        let s = Self.second
        func observe(_ busy: Bool, _ activity: UInt64, started: UInt64, now: UInt64) -> Bool {
            clock.observe(busy: busy, activity: activity, started: started, now: now, limit: 2)
        }
        // Idle: never a stall.
        #expect(observe(false, 1, started: 0, now: 100 * s) == false)
        // Activity 2 started at 99.5 s: 0.5 s, 1.5 s, 2.5 s > 2.
        #expect(observe(true, 2, started: 99 * s + s / 2, now: 100 * s) == false)
        #expect(observe(true, 2, started: 99 * s + s / 2, now: 101 * s) == false)
        #expect(observe(true, 2, started: 99 * s + s / 2, now: 102 * s) == true)
        // A new activity starts from zero.
        #expect(observe(true, 3, started: 102 * s, now: 102 * s) == false)
        #expect(clock.elapsed == 0)
        // The process was stopped for an hour: the step counts one second.
        #expect(observe(true, 3, started: 102 * s, now: 3702 * s) == false)
        #expect(clock.elapsed == 1)
        // An activity first seen long after it started (the watchdog was not running) counts one second too.
        #expect(observe(true, 4, started: 0, now: 3800 * s) == false)
        #expect(clock.elapsed == 1)
        #expect(observe(false, 4, started: 0, now: 3801 * s) == false)
        #expect(clock.elapsed == 0)
    }

    @Test("a stall names the file, the HDF5 path and the call, and exits 65 reading, 74 writing")
    func stall() {
        let reading = HDF5Library.Stall(file: "m.h5", call: "H5Aread", location: "/cnnkit@architecture", inCall: true, writing: false, limit: 10.013)
        #expect(reading.description == "m.h5: libhdf5 did not finish reading within 10.01 s: the file is damaged (HDF5 path /cnnkit@architecture, in H5Aread)")
        #expect(reading.exitCode == 65)
        let after = HDF5Library.Stall(file: "m.h5", call: "H5Oopen", location: "/model_weights", inCall: false, writing: false, limit: 2)
        #expect(after.description == "m.h5: libhdf5 did not finish reading within 2 s: the file is damaged (HDF5 path unknown; the last call was H5Oopen at /model_weights)")
        let writing = HDF5Library.Stall(file: "o.h5", call: "H5Dwrite", location: "/model_weights/dense", inCall: true, writing: true, limit: 2.5)
        #expect(writing.description == "o.h5: libhdf5 did not finish writing within 2.5 s (HDF5 path /model_weights/dense, in H5Dwrite)")
        #expect(writing.exitCode == 74)
        let unknown = HDF5Library.Stall(file: nil, call: nil, location: nil, inCall: false, writing: false, limit: 0.25)
        #expect(unknown.description == "an HDF5 file: libhdf5 did not finish reading within 0.25 s: the file is damaged")
    }

    @Test("poll reports a call held open past the limit, naming it, and nothing once it returns")
    func poll() async throws {
        let watchdog = HDF5Watchdog.shared
        let limit = HDF5Library.TimeLimit(base: 2, perMegabyte: 0)
        let entered = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        let check = HDF5Checker(file: "held.h5", writing: false)
        Thread {
            HDF5Library.serialized {
                check.timed("H5Aread", "/cnnkit@architecture") {
                    entered.signal()
                    release.wait()
                }
            }
            done.signal()
        }.start()
        entered.wait()
        // The library lock is held by the other thread: no other test marks an activity meanwhile.
        let start = HDF5Watchdog.now()
        // Observed at start (a few microseconds after the call began), then 1 s, 1.9 s and 2.9 s later.
        #expect(watchdog.poll(now: start, limit: limit) == nil)
        #expect(watchdog.poll(now: start + Self.second, limit: limit) == nil)
        #expect(watchdog.poll(now: start + 19 * Self.second / 10, limit: limit) == nil)
        let stall = watchdog.poll(now: start + 29 * Self.second / 10, limit: limit)
        release.signal()
        done.wait()
        #expect(stall == HDF5Library.Stall(file: "held.h5", call: "H5Aread", location: "/cnnkit@architecture", inCall: true, writing: false, limit: 2))
        #expect(watchdog.poll(now: HDF5Watchdog.now(), limit: limit) == nil)
    }

    @Test("work inside a section that is not libhdf5's (fetching a tensor for a writer) is not counted")
    func outside() {
        let watchdog = HDF5Watchdog.shared
        let limit = HDF5Library.TimeLimit(base: 2, perMegabyte: 0)
        let entered = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        Thread {
            HDF5Library.serialized {
                HDF5Library.outsideLibHDF5 {
                    entered.signal()
                    release.wait()
                }
            }
            done.signal()
        }.start()
        entered.wait()
        let start = HDF5Watchdog.now()
        let polls = (0..<10).map { watchdog.poll(now: start + UInt64($0) * Self.second, limit: limit) }
        release.signal()
        done.wait()
        #expect(polls.allSatisfy { $0 == nil })
    }

    @Test("temporary files are registered for removal only while their body runs")
    func temporaries() {
        let path = "/tmp/cnnkit-watchdog-test-\(UUID().uuidString)"
        HDF5Library.removeOnStall([path]) {
            #expect(HDF5Watchdog.shared.registeredTemporaries.contains(path))
        }
        #expect(!HDF5Watchdog.shared.registeredTemporaries.contains(path))
    }

    @Test("the watchdog is off unless a process turns it on")
    func offByDefault() {
        #expect(HDF5Library.timeLimit == nil)
    }
}

import CNNKitHDF5Driver
import Foundation
import HDF5Format
import Testing

/// CNNKit's checked file driver (`CNNKitHDF5Driver`): files read as with libhdf5's own driver, and global heap
/// collections that libhdf5 1.10 would loop on (or read past) refused before libhdf5 parses them.
@Suite("HDF5 checked driver")
struct HDF5CheckedDriverTests {
    /// A global heap collection as libhdf5 writes one (8-byte lengths): the header, then `objects` (index, data),
    /// then the free space up to `size`.
    static func collection(size: Int = 4096, objects: [(UInt16, [UInt8])]) -> [UInt8] {
        var bytes = Array("GCOL".utf8) + [1, 0, 0, 0] + le(UInt64(size))
        for (index, data) in objects {
            bytes += le(index) + le(UInt16(1)) + [0, 0, 0, 0] + le(UInt64(data.count))
            bytes += data + [UInt8](repeating: 0, count: (8 - data.count % 8) % 8)
        }
        let free = size - bytes.count
        bytes += le(UInt16(0)) + le(UInt16(0)) + [0, 0, 0, 0] + le(UInt64(free))
        bytes += [UInt8](repeating: 0, count: size - bytes.count)
        return bytes
    }

    static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    /// The check on `block` read at byte 1000: nil when it passes, else the reason.
    static func check(_ block: [UInt8], lengthSize: UInt32 = 8) -> String? {
        var reason = [CChar](repeating: 0, count: 512)
        let result = cnnkit_h5_check_global_heap(block, block.count, 1000, lengthSize, &reason, reason.count)
        return result == 0 ? nil : String(decoding: reason.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    @Test("a sound collection passes; so do blocks that are not a whole collection")
    func soundBlocks() {
        let sound = Self.collection(objects: [(1, Array("jax".utf8)), (2, Array(#"{"input":{}}"#.utf8))])
        #expect(Self.check(sound) == nil)
        // The first 4096-byte read of a larger collection waits for the read of the whole.
        var larger = sound
        larger.replaceSubrange(8..<16, with: Self.le(UInt64(8192)))
        #expect(Self.check(larger) == nil)
        #expect(Self.check(Array(repeating: 0, count: 4096)) == nil)
        #expect(Self.check(Array("GCOL".utf8)) == nil)
        // Lengths of another size are not walked.
        var zeroed = sound
        zeroed.replaceSubrange(16..<32, with: [UInt8](repeating: 0, count: 16))
        #expect(Self.check(zeroed, lengthSize: 16) == nil)
    }

    @Test("a free-space object of size 0 (libhdf5 loops) and an object past the end are refused")
    func damagedBlocks() throws {
        var zeroed = Self.collection(objects: [(1, Array("jax".utf8)), (2, Array("architecture".utf8))])
        // Object 2's header: index 0 (free space), size 0.
        zeroed.replaceSubrange(40..<56, with: [UInt8](repeating: 0, count: 16))
        let reason = try #require(Self.check(zeroed))
        #expect(reason == "global heap collection at byte 1000 is damaged: its free-space object at byte 1040 has size 0 (libhdf5 1.10 would read it forever)")

        var long = Self.collection(objects: [(1, Array("jax".utf8))])
        long.replaceSubrange(24..<32, with: Self.le(UInt64(5000)))
        #expect(Self.check(long) == "global heap collection at byte 1000 is damaged: object 1 at byte 1016 claims 5000 bytes, but the collection of 4096 bytes has 4080 left")

        var huge = Self.collection(objects: [(3, Array("x".utf8))])
        huge.replaceSubrange(24..<32, with: Self.le(UInt64.max))
        #expect(Self.check(huge)?.contains("object 3 at byte 1016 claims 18446744073709551615 bytes") == true)
    }

    @Test("a sample file reads the same through the checked driver and libhdf5's own")
    func sameReads() throws {
        let directory = try HDF5FileFactory.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("sample.h5").path
        try HDF5FileFactory.writeSample(to: path)
        func read() throws -> (String?, [String]?, [Float]) {
            let source = try HDF5Source.open(path: path, name: path)
            return try HDF5Library.serialized {
                let group = try source.openGroup(source.root, "group", base: "/")
                return (try source.string(source.root, "title", path: "/"), try source.strings(group, "names", path: "/group"),
                        try source.readFloats(source.root, "data", base: "/").scalars)
            }
        }
        let checked = try read()
        HDF5Library.checksGlobalHeaps = false
        defer { HDF5Library.checksGlobalHeaps = true }
        let plain = try read()
        #expect(checked.0 == "wrapper" && checked.0 == plain.0)
        #expect(checked.1 == ["a", "bc"] && checked.1 == plain.1)
        #expect(checked.2.map(\.bitPattern) == plain.2.map(\.bitPattern))
    }

    @Test("a string whose heap object header is zeroed is refused at once, naming the attribute and the collection")
    func zeroedHeader() throws {
        let directory = try HDF5FileFactory.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("sample.h5").path
        try HDF5FileFactory.writeSample(to: path)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        // The object holding "wrapper" (the root's @title): its 16-byte header comes right before the string.
        let text = Array("wrapper".utf8)
        let at = try #require((16..<(bytes.count - text.count)).first { bytes[$0..<($0 + text.count)].elementsEqual(text) })
        bytes.replaceSubrange((at - 16)..<at, with: [UInt8](repeating: 0, count: 16))
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let started = Date()
        let source = try HDF5Source.open(path: path, name: "shown.h5")
        let error = try #require(throws: HDF5Error.self) {
            try HDF5Library.serialized { _ = try source.string(source.root, "title", path: "/") }
        }
        #expect(Date().timeIntervalSince(started) < 5)
        guard case let .callFailed(file, location, call, stack, writing) = error else {
            Issue.record("expected a failed call, found \(error)")
            return
        }
        #expect(file == "shown.h5" && location == "/@title" && call == "H5Aread" && !writing)
        #expect(stack.hasPrefix("cnnkit_read(): global heap collection at byte "), "\(stack)")
        #expect(stack.contains("has size 0 (libhdf5 1.10 would read it forever)"), "\(stack)")
    }
}

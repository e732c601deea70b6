import CHDF5
import Dispatch
import Foundation
import HDF5Format
import Testing

@Suite("HDF5 handles")
struct HDF5HandleTests {
    @Test("opening, reading and releasing a file many times leaves no identifier open")
    func noLeaks() throws {
        let directory = try HDF5FileFactory.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("sample.h5").path
        try HDF5FileFactory.writeSample(to: path)
        // Holding the lock throughout keeps other tests from opening or closing identifiers meanwhile.
        try HDF5Library.serialized {
            let before = HDF5FileFactory.openObjectCount()
            for _ in 0..<200 {
                let source = try HDF5Source.open(path: path, name: path)
                #expect(try source.readFloats(source.root, "data", base: "/").scalars.count == 6)
                let group = try source.openGroup(source.root, "group", base: "/")
                #expect(try source.strings(group, "names", path: "/group") == ["a", "bc"])
                #expect(HDF5FileFactory.openObjectCount() == before + 3) // the file, the root group, /group
            }
            #expect(HDF5FileFactory.openObjectCount() == before)
            // Failures release what they opened as well.
            for _ in 0..<50 {
                let source = try HDF5Source.open(path: path, name: path)
                #expect(throws: HDF5Error.self) { try source.readFloats(source.root, "group/step", base: "/") }
                #expect(throws: HDF5Error.self) { try source.openDataset(source.root, "group", base: "/") }
            }
            #expect(HDF5FileFactory.openObjectCount() == before)
        }
    }

    @Test("writing a file many times leaves no identifier open")
    func noLeaksWriting() throws {
        let directory = try HDF5FileFactory.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("sample.h5").path
        try HDF5Library.serialized {
            let before = HDF5FileFactory.openObjectCount()
            for compression in [HDF5Compression.none, .deflate(level: 4)] {
                for _ in 0..<50 { try HDF5FileFactory.writeSample(to: path, compression: compression) }
            }
            #expect(HDF5FileFactory.openObjectCount() == before)
        }
    }

    @Test("close() closes the identifier once; later calls and the release do nothing")
    func closeOnce() {
        HDF5Library.serialized {
            let space = HDF5Handle(H5Screate(H5S_SCALAR), kind: .dataspace)
            let id = space.id
            #expect(H5Iis_valid(id) > 0)
            space.close()
            #expect(H5Iis_valid(id) == 0)
            space.close()
            #expect(H5Iis_valid(id) == 0)
        }
    }

    @Test("an object keeps its file open until the object is closed")
    func objectKeepsFile() throws {
        let directory = try HDF5FileFactory.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("sample.h5").path
        try HDF5FileFactory.writeSample(to: path)
        try HDF5Library.serialized {
            let check = HDF5Checker(file: path, writing: false)
            var file: HDF5Handle? = try check.open(.file, "H5Fopen", "/", H5Fopen(path, cnnkit_H5F_ACC_RDONLY(), h5Default))
            let fileID = try #require(file?.id)
            var dataset: HDF5Handle? = try check.open(.dataset, "H5Dopen2", "/data", H5Dopen2(fileID, "/data", h5Default), in: file)
            let datasetID = try #require(dataset?.id)
            file = nil
            #expect(H5Iis_valid(fileID) > 0)
            #expect(H5Iis_valid(datasetID) > 0)
            dataset = nil
            #expect(H5Iis_valid(datasetID) == 0)
            #expect(H5Iis_valid(fileID) == 0)
        }
    }

    @Test("handles opened and released on many threads, inside and outside the lock, all close")
    func threads() throws {
        let directory = try HDF5FileFactory.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("sample.h5").path
        try HDF5FileFactory.writeSample(to: path)
        let opened = Opened()
        DispatchQueue.concurrentPerform(iterations: 64) { index in
            do {
                if index % 2 == 0 {
                    // Opened and released while this thread holds the lock (the lock is recursive).
                    try HDF5Library.serialized {
                        let source = try HDF5Source.open(path: path, name: path)
                        let group = try source.openGroup(source.root, "group", base: "/")
                        opened.add([source.root.id, group.id])
                    }
                } else {
                    // Released after this thread has given the lock up.
                    let source = try HDF5Source.open(path: path, name: path)
                    let group = try HDF5Library.serialized { try source.openGroup(source.root, "group", base: "/") }
                    opened.add([source.root.id, group.id])
                }
            } catch {
                opened.fail("\(error)")
            }
        }
        #expect(opened.failures.isEmpty)
        let ids = opened.ids
        #expect(ids.count == 128)
        HDF5Library.serialized {
            #expect(ids.allSatisfy { H5Iis_valid($0) == 0 })
        }
    }
}

/// Identifiers and failures collected from many threads.
private final class Opened: @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [hid_t] = []
    private var errors: [String] = []

    func add(_ new: [hid_t]) { lock.withLock { collected += new } }
    func fail(_ message: String) { lock.withLock { errors.append(message) } }
    var ids: [hid_t] { lock.withLock { collected } }
    var failures: [String] { lock.withLock { errors } }
}

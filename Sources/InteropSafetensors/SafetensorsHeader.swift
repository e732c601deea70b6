import Foundation

/// The parsed JSON header of a safetensors file, before its offsets are checked.
struct SafetensorsHeader {
    /// One tensor entry as written: `{"dtype": ..., "shape": [...], "data_offsets": [begin, end]}`.
    struct Entry {
        var name: String
        var dtype: String
        var shape: [Int]
        var offsets: [UInt64]
    }

    /// A tensor entry whose dtype, shape and offsets have been checked.
    struct Validated {
        var name: String
        var dtype: SafetensorsDType
        var shape: [Int]
        var begin: UInt64
        var count: Int
    }

    var metadata: [String: String]?
    var entries: [Entry]

    /// Parses the header bytes (UTF-8 JSON, optionally padded with JSON whitespace).
    ///
    /// - Throws: ``SafetensorsError/malformedHeader(file:offset:reason:)``.
    static func parse(_ bytes: ArraySlice<UInt8>, file: String) throws -> SafetensorsHeader {
        func fail(_ reason: String) -> SafetensorsError { .malformedHeader(file: file, offset: 8, reason: reason) }
        guard String(validating: bytes, as: UTF8.self) != nil else { throw fail("the header is not valid UTF-8") }
        let raw: RawHeader
        do {
            raw = try JSONDecoder().decode(RawHeader.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw fail(error.summary { "\($1)\($0)" })
        } catch let error as SafetensorsError {
            throw error
        } catch {
            throw fail("\(error)")
        }
        return SafetensorsHeader(metadata: raw.metadata, entries: raw.entries)
    }

    /// Checks the entries against the data area, in the reference implementation's order: sort by
    /// `data_offsets`, then each must begin where the previous ended, span exactly its shape times its dtype
    /// size, and the last must end at the end of the file.
    ///
    /// - Parameters:
    ///   - dataBytes: the bytes after the header.
    ///   - dataStart: the file offset of the data area (for messages).
    /// - Throws: ``SafetensorsError/unsupportedDType(file:tensor:dtype:)``, ``SafetensorsError/badOffsets(file:tensor:expectedStart:found:)``,
    ///   ``SafetensorsError/sizeMismatch(file:tensor:dtype:shape:expectedBytes:foundBytes:)`` or
    ///   ``SafetensorsError/dataNotCovered(file:offset:coveredBytes:dataBytes:)``.
    func validated(dataBytes: UInt64, dataStart: Int, file: String) throws -> [Validated] {
        let sorted = entries.sorted { a, b in
            if a.offsets != b.offsets { return a.offsets.lexicographicallyPrecedes(b.offsets) }
            return Array(a.name.utf8).lexicographicallyPrecedes(Array(b.name.utf8))
        }
        var result: [Validated] = []
        result.reserveCapacity(sorted.count)
        var position: UInt64 = 0
        for entry in sorted {
            guard let dtype = SafetensorsDType(rawValue: entry.dtype) else {
                throw SafetensorsError.unsupportedDType(file: file, tensor: entry.name, dtype: entry.dtype)
            }
            let begin = entry.offsets[0], end = entry.offsets[1]
            guard begin == position, end >= begin else {
                throw SafetensorsError.badOffsets(file: file, tensor: entry.name, expectedStart: position, found: entry.offsets)
            }
            var count: UInt64 = 1
            for d in entry.shape {
                guard d >= 0 else { throw SafetensorsError.malformedHeader(file: file, offset: 8, reason: "tensor \(entry.name) has a negative extent in shape \(entry.shape)") }
                let (p, o) = count.multipliedReportingOverflow(by: UInt64(d))
                guard !o else { throw SafetensorsError.malformedHeader(file: file, offset: 8, reason: "tensor \(entry.name) shape \(entry.shape) overflows") }
                count = p
            }
            let (needed, overflow) = count.multipliedReportingOverflow(by: UInt64(dtype.size))
            guard !overflow, needed == end - begin else {
                throw SafetensorsError.sizeMismatch(file: file, tensor: entry.name, dtype: dtype.rawValue, shape: entry.shape,
                                                    expectedBytes: overflow ? UInt64.max : needed, foundBytes: end - begin)
            }
            guard end <= dataBytes else {
                throw SafetensorsError.dataNotCovered(file: file, offset: dataStart, coveredBytes: end, dataBytes: dataBytes)
            }
            position = end
            result.append(Validated(name: entry.name, dtype: dtype, shape: entry.shape, begin: begin, count: Int(count)))
        }
        guard position == dataBytes else {
            throw SafetensorsError.dataNotCovered(file: file, offset: dataStart + Int(position), coveredBytes: position, dataBytes: dataBytes)
        }
        return result
    }
}

/// The header JSON: an object whose keys are tensor names, plus an optional `__metadata__` string map.
private struct RawHeader: Decodable {
    var metadata: [String: String]?
    var entries: [SafetensorsHeader.Entry] = []

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    struct TensorInfo: Decodable {
        var dtype: String
        var shape: [Int]
        var dataOffsets: [UInt64]
        enum CodingKeys: String, CodingKey { case dtype, shape, dataOffsets = "data_offsets" }
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        for key in c.allKeys {
            if key.stringValue == "__metadata__" {
                metadata = try c.decodeIfPresent([String: String].self, forKey: key)
                continue
            }
            let info = try c.decode(TensorInfo.self, forKey: key)
            guard info.dataOffsets.count == 2 else {
                throw DecodingError.dataCorrupted(.init(codingPath: [key], debugDescription: "data_offsets must be [begin, end], found \(info.dataOffsets)"))
            }
            entries.append(SafetensorsHeader.Entry(name: key.stringValue, dtype: info.dtype, shape: info.shape, offsets: info.dataOffsets))
        }
    }
}

import ConvNet
import Foundation
import ModelArchive
import Testing
@testable import InteropNumPy
@testable import InteropSafetensors

/// Damaged files give an error, never a crash: each valid file is mutated many times (byte flips, truncations,
/// inserted bytes) with a fixed seed, and every result must read or throw.
@Suite("mutated files read or throw")
struct MutationTests {
    static func mutations(of bytes: [UInt8], count: Int, seed: UInt64) -> [[UInt8]] {
        var rng = RandomGenerator(seed: seed)
        return (0..<count).map { _ in
            var b = bytes
            switch rng.next(below: 4) {
            case 0:
                for _ in 0..<(1 + Int(rng.next(below: 4))) {
                    let i = Int(rng.next(below: UInt64(b.count)))
                    b[i] = UInt8(truncatingIfNeeded: rng.next())
                }
            case 1:
                b = Array(b.prefix(Int(rng.next(below: UInt64(b.count)))))
            case 2:
                let i = Int(rng.next(below: UInt64(b.count)))
                b.insert(contentsOf: (0..<(1 + Int(rng.next(below: 8)))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: i)
            default:
                // Overwrite a 4- or 8-byte field with an extreme value (sizes, offsets, lengths).
                let i = Int(rng.next(below: UInt64(max(b.count - 8, 1))))
                let extreme: [UInt8] = rng.next(below: 2) == 0 ? [0xFF, 0xFF, 0xFF, 0xFF] : [0xFF, 0xFF, 0xFF, 0x7F, 0, 0, 0, 0]
                for (k, v) in extreme.enumerated() where i + k < b.count { b[i + k] = v }
            }
            return b
        }
    }

    @Test("safetensors")
    func safetensors() throws {
        let bytes = try SafetensorsModel.encode(try TestSupport.document(seed: 11))
        var failures = 0
        for m in Self.mutations(of: bytes, count: 1500, seed: 1) {
            do { _ = try SafetensorsModel.read(bytes: m, name: "m") } catch { failures += 1 }
        }
        #expect(failures > 0)
    }

    @Test("npz, stored and deflated")
    func npz() throws {
        for compress in [false, true] {
            let bytes = try NPZModel.encode(try TestSupport.document(seed: 12), compress: compress)
            var failures = 0
            for m in Self.mutations(of: bytes, count: 1500, seed: compress ? 3 : 2) {
                do { _ = try NPZModel.read(bytes: m, name: "m") } catch { failures += 1 }
            }
            #expect(failures > 0)
        }
    }
}

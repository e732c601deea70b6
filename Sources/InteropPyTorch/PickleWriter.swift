/// The `data.pkl` of a state dict of float32 tensors, as `torch.save` writes it with pickle protocol 2:
/// `collections.OrderedDict()` filled by SETITEMS (batches of 1000), each value
/// `torch._utils._rebuild_tensor_v2((storage persistent id), 0, size, stride, False, OrderedDict())` with the
/// persistent id `('storage', torch.FloatStorage, key, 'cpu', element count)`.
struct PickleWriter {
    private(set) var bytes: [UInt8] = [0x80, 0x02]
    private var memo: [String: Int] = [:]

    /// The pickle of `entries` (key, storage key, shape), each a contiguous float32 tensor of its own storage.
    static func stateDict(_ entries: [(key: String, storage: String, shape: [Int])]) -> [UInt8] {
        var w = PickleWriter()
        w.global("collections", "OrderedDict")
        w.bytes += [0x29, 0x52] // EMPTY_TUPLE REDUCE
        for batch in stride(from: 0, to: entries.count, by: 1000) {
            w.bytes.append(0x28) // MARK
            for e in entries[batch..<min(batch + 1000, entries.count)] {
                w.string(e.key)
                w.global("torch._utils", "_rebuild_tensor_v2")
                w.bytes += [0x28, 0x28] // MARK MARK
                w.memoized("storage") { $0.string("storage") }
                w.global("torch", "FloatStorage")
                w.string(e.storage)
                w.memoized("cpu") { $0.string("cpu") }
                w.int(e.shape.reduce(1, *))
                w.bytes += [0x74, 0x51] // TUPLE BINPERSID
                w.int(0)
                w.tuple(e.shape)
                var strides = [Int](repeating: 1, count: e.shape.count)
                for d in stride(from: e.shape.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * e.shape[d + 1] }
                w.tuple(strides)
                w.bytes.append(0x89) // NEWFALSE
                w.global("collections", "OrderedDict")
                w.bytes += [0x29, 0x52] // EMPTY_TUPLE REDUCE
                w.bytes += [0x74, 0x52] // TUPLE REDUCE
            }
            w.bytes.append(0x75) // SETITEMS
        }
        w.bytes.append(0x2E) // STOP
        return w.bytes
    }

    /// Emits a value once and fetches it from the memo after (BINPUT / BINGET, LONG_ forms past 255).
    private mutating func memoized(_ name: String, _ emit: (inout PickleWriter) -> Void) {
        if let index = memo[name] {
            if index < 256 { bytes += [0x68, UInt8(index)] } else { bytes.append(0x6A); le32(index) }
            return
        }
        emit(&self)
        let index = memo.count
        memo[name] = index
        if index < 256 { bytes += [0x71, UInt8(index)] } else { bytes.append(0x72); le32(index) }
    }

    private mutating func global(_ module: String, _ name: String) {
        memoized("global \(module).\(name)") { $0.bytes += [0x63] + Array("\(module)\n\(name)\n".utf8) }
    }

    private mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        bytes.append(0x58)
        le32(utf8.count)
        bytes += utf8
    }

    private mutating func int(_ n: Int) {
        switch n {
        case 0..<256: bytes += [0x4B, UInt8(n)]
        case 256..<65536: bytes += [0x4D, UInt8(n & 0xFF), UInt8(n >> 8)]
        case 65536..<(1 << 31): bytes.append(0x4A); le32(n)
        default:
            bytes += [0x8A, 8]
            for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: n >> (8 * i))) }
        }
    }

    private mutating func tuple(_ values: [Int]) {
        switch values.count {
        case 0: bytes.append(0x29)
        case 1...3:
            for v in values { int(v) }
            bytes.append(0x84 + UInt8(values.count))
        default:
            bytes.append(0x28)
            for v in values { int(v) }
            bytes.append(0x74)
        }
    }

    private mutating func le32(_ n: Int) {
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: n >> (8 * i))) }
    }
}

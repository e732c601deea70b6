/// The limits of ``PickleMachine``; each is named in the error that reports it (`Schemas/pytorch.md`).
public struct PickleLimits: Sendable, Hashable {
    /// The largest `data.pkl` read (a state dict's pickle is about 100 bytes per tensor).
    public var maxBytes = 16 << 20
    /// The most opcodes run.
    public var maxOpcodes = 4_000_000
    /// The most memo entries (BINPUT, LONG_BINPUT, MEMOIZE).
    public var maxMemo = 100_000
    /// The most values on the stack.
    public var maxStack = 10_000
    /// The most open MARKs, and the deepest nesting of containers.
    public var maxDepth = 100
    /// The most entries of the state dict (tensors).
    public var maxTensors = 100_000

    public init() {}
}

/// A global a state dict's pickle may name: those PyTorch's weights-only unpickler allows for one. Any other
/// `GLOBAL` or `STACK_GLOBAL` is refused by name before anything else happens.
public enum PickleGlobal: Sendable, Hashable {
    case orderedDict
    case rebuildTensorV2
    case rebuildParameter
    case storage(TorchDType)

    /// `module.name`, as Python writes it.
    public var qualifiedName: String {
        switch self {
        case .orderedDict: "collections.OrderedDict"
        case .rebuildTensorV2: "torch._utils._rebuild_tensor_v2"
        case .rebuildParameter: "torch._utils._rebuild_parameter"
        case let .storage(dtype): "torch.\(dtype.storageClass)"
        }
    }

    /// The global `module.name` if it is allowed.
    public init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch", _):
            guard let dtype = TorchDType(storageClass: name) else { return nil }
            self = .storage(dtype)
        default: return nil
        }
    }

    /// The allowed globals, for messages.
    static let allowedText = "collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, "
        + TorchDType.allCases.map { "torch.\($0.storageClass)" }.joined(separator: ", ")
}

/// A tensor as the pickle describes it: a view of a storage.
public struct PickledTensor: Sendable, Hashable {
    /// The storage's key: its zip member is `<archive>/data/<key>`.
    public var storageKey: String
    public var dtype: TorchDType
    /// The storage's element count.
    public var storageCount: Int
    /// In elements.
    public var offset: Int
    public var shape: [Int]
    /// In elements.
    public var strides: [Int]

    /// The element count of ``shape``.
    public var count: Int { shape.reduce(1, *) }

    /// True when the tensor is the row-major (C-contiguous) layout of its shape.
    public var isContiguous: Bool {
        var expected = 1
        for (size, stride) in zip(shape, strides).reversed() {
            if size != 1 && stride != expected { return false }
            expected *= size
        }
        return true
    }
}

/// A value on the machine's stack. Containers live in the machine's arena and are referred to by index, so that
/// no value is recursive: a deeply nested or cyclic pickle cannot overflow the native stack when it is freed.
enum PickleValue: Sendable, Hashable {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case global(PickleGlobal)
    case object(Int)
}

/// A container or torch object in the arena.
enum PickleObject: Sendable {
    case tuple([PickleValue])
    case list([PickleValue])
    /// `ordered`: made by `collections.OrderedDict()`.
    case dict(PickleDict)
    /// A persistent id that named a storage.
    case storage(key: String, dtype: TorchDType, count: Int)
    case tensor(PickledTensor)
}

/// A dict's entries in insertion order (a key set again keeps its place, as in Python).
struct PickleDict: Sendable {
    var ordered: Bool
    var keys: [PickleValue] = []
    var values: [PickleValue] = []
    var index: [PickleValue: Int] = [:]

    mutating func set(_ key: PickleValue, _ value: PickleValue) {
        if let at = index[key] {
            values[at] = value
        } else {
            index[key] = keys.count
            keys.append(key)
            values.append(value)
        }
    }
}

/// A data-only pickle reader for PyTorch state dicts (`Schemas/pytorch.md` section 2).
///
/// It implements the protocol 2 (and protocol 4 framing) opcodes a state dict needs and nothing else; it never
/// imports or calls anything. `GLOBAL` and `STACK_GLOBAL` are checked against ``PickleGlobal`` as they are
/// read; `REDUCE` builds an `OrderedDict` or a tensor view only; `BINPERSID` resolves a storage through the
/// caller's check of its zip member. Every count (bytes, opcodes, memo, stack, nesting, tensors) has a limit.
struct PickleMachine {
    /// Checks a storage a persistent id names: its key, type and element count, against its zip member.
    typealias StorageCheck = (_ key: String, _ dtype: TorchDType, _ count: Int) throws -> Void

    let file: String
    let member: String
    let limits: PickleLimits
    let bytes: [UInt8]
    let checkStorage: StorageCheck

    private(set) var arena: [PickleObject] = []
    private var depths: [Int] = []
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private var storages: [String: Int] = [:]
    private var position = 0
    private var opcodeStart = 0

    init(bytes: [UInt8], file: String, member: String, limits: PickleLimits = .init(), checkStorage: @escaping StorageCheck) {
        self.bytes = bytes
        self.file = file
        self.member = member
        self.limits = limits
        self.checkStorage = checkStorage
    }

    /// The names of the opcodes this machine runs, for messages and `Schemas/pytorch.md`.
    static let opcodeNames: [UInt8: String] = [
        0x80: "PROTO", 0x95: "FRAME", 0x7D: "EMPTY_DICT", 0x5D: "EMPTY_LIST", 0x29: "EMPTY_TUPLE", 0x85: "TUPLE1",
        0x86: "TUPLE2", 0x87: "TUPLE3", 0x74: "TUPLE", 0x28: "MARK", 0x58: "BINUNICODE", 0x8C: "SHORT_BINUNICODE",
        0x4A: "BININT", 0x4B: "BININT1", 0x4D: "BININT2", 0x8A: "LONG1", 0x47: "BINFLOAT", 0x88: "NEWTRUE",
        0x89: "NEWFALSE", 0x4E: "NONE", 0x71: "BINPUT", 0x72: "LONG_BINPUT", 0x68: "BINGET", 0x6A: "LONG_BINGET",
        0x94: "MEMOIZE", 0x73: "SETITEM", 0x75: "SETITEMS", 0x61: "APPEND", 0x65: "APPENDS", 0x63: "GLOBAL",
        0x93: "STACK_GLOBAL", 0x52: "REDUCE", 0x62: "BUILD", 0x51: "BINPERSID", 0x2E: "STOP",
    ]

    /// Opcodes of the pickle protocols that a state dict does not need, named in the refusal.
    static let refusedNames: [UInt8: String] = [
        0x69: "INST", 0x6F: "OBJ", 0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 0x50: "PERSID", 0x82: "EXT1", 0x83: "EXT2",
        0x84: "EXT4", 0x49: "INT", 0x4C: "LONG", 0x46: "FLOAT", 0x53: "STRING", 0x54: "BINSTRING",
        0x55: "SHORT_BINSTRING", 0x56: "UNICODE", 0x70: "PUT", 0x67: "GET", 0x6C: "LIST", 0x64: "DICT",
        0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x8B: "LONG4", 0x42: "BINBYTES", 0x43: "SHORT_BINBYTES",
        0x8E: "BINBYTES8", 0x8D: "BINUNICODE8", 0x8F: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET",
        0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
    ]

    func fail(_ reason: String) -> PyTorchError { .pickle(file: file, member: member, offset: opcodeStart, reason: reason) }
    func over(_ what: String, _ limit: Int) -> PyTorchError { .limit(file: file, member: member, offset: opcodeStart, what: what, limit: limit) }

    /// Runs the pickle to its STOP and returns the value it leaves.
    mutating func run() throws -> PickleValue {
        guard bytes.count <= limits.maxBytes else {
            throw PyTorchError.limit(file: file, member: member, offset: 0, what: "the pickle's size (\(bytes.count) bytes)", limit: limits.maxBytes)
        }
        var opcodes = 0
        while true {
            opcodeStart = position
            guard position < bytes.count else { throw fail("the pickle ends without STOP") }
            opcodes += 1
            guard opcodes <= limits.maxOpcodes else { throw over("the opcode count", limits.maxOpcodes) }
            let op = bytes[position]
            position += 1
            switch op {
            case 0x80: // PROTO
                let version = try byte()
                guard version >= 2 && version <= 5 else { throw fail("pickle protocol \(version); a state dict is written with protocol 2 (up to 5 read)") }
            case 0x95: // FRAME: a length prefix only
                _ = try take(8)
            case 0x7D: try push(.object(make(.dict(PickleDict(ordered: false)), depth: 1)))
            case 0x5D: try push(.object(make(.list([]), depth: 1)))
            case 0x29: try push(.object(make(.tuple([]), depth: 1)))
            case 0x85, 0x86, 0x87:
                let n = Int(op - 0x84)
                guard stack.count - (marks.last ?? 0) >= n else { throw fail("TUPLE\(n) needs \(n) values on the stack") }
                let items = Array(stack.suffix(n))
                stack.removeLast(n)
                try push(.object(make(.tuple(items), depth: 1 + maxDepth(items))))
            case 0x74: // TUPLE
                let items = try popMark()
                try push(.object(make(.tuple(items), depth: 1 + maxDepth(items))))
            case 0x28: // MARK
                guard marks.count < limits.maxDepth else { throw over("the nesting depth (open MARKs)", limits.maxDepth) }
                marks.append(stack.count)
            case 0x58: try push(.string(try text(Int(try le(4)))))
            case 0x8C: try push(.string(try text(Int(try byte()))))
            case 0x4A: try push(.int(Int(Int32(bitPattern: UInt32(try le(4))))))
            case 0x4B: try push(.int(Int(try byte())))
            case 0x4D: try push(.int(Int(try le(2))))
            case 0x8A: try push(.int(try long1()))
            case 0x47:
                let raw = try take(8)
                push(double: raw)
            case 0x88: try push(.bool(true))
            case 0x89: try push(.bool(false))
            case 0x4E: try push(.none)
            case 0x71: try put(Int(try byte()))
            case 0x72: try put(Int(try le(4)))
            case 0x94: try put(memo.count)
            case 0x68: try push(try get(Int(try byte())))
            case 0x6A: try push(try get(Int(try le(4))))
            case 0x73: // SETITEM
                guard stack.count - (marks.last ?? 0) >= 3 else { throw fail("SETITEM needs a dict, a key and a value on the stack") }
                let value = stack.removeLast(), key = stack.removeLast()
                try setItems(on: stack.last!, [(key, value)])
            case 0x75: // SETITEMS
                let items = try popMark()
                guard items.count % 2 == 0 else { throw fail("SETITEMS needs key and value pairs, found \(items.count) values") }
                guard let target = stack.last, stack.count > (marks.last ?? 0) else { throw fail("SETITEMS has no dict below its MARK") }
                try setItems(on: target, stride(from: 0, to: items.count, by: 2).map { (items[$0], items[$0 + 1]) })
            case 0x61: // APPEND
                guard stack.count - (marks.last ?? 0) >= 2 else { throw fail("APPEND needs a list and a value on the stack") }
                let value = stack.removeLast()
                try append(to: stack.last!, [value])
            case 0x65: // APPENDS
                let items = try popMark()
                guard let target = stack.last, stack.count > (marks.last ?? 0) else { throw fail("APPENDS has no list below its MARK") }
                try append(to: target, items)
            case 0x63: // GLOBAL module\nname\n
                let module = try line(), name = try line()
                try push(.global(try allow(module: module, name: name)))
            case 0x93: // STACK_GLOBAL
                guard stack.count - (marks.last ?? 0) >= 2, case let .string(name) = stack.removeLast(), case let .string(module) = stack.removeLast() else {
                    throw fail("STACK_GLOBAL needs two strings on the stack")
                }
                try push(.global(try allow(module: module, name: name)))
            case 0x52: // REDUCE
                guard stack.count - (marks.last ?? 0) >= 2 else { throw fail("REDUCE needs a callable and its arguments on the stack") }
                let args = stack.removeLast(), callable = stack.removeLast()
                try push(try reduce(callable, args))
            case 0x62: // BUILD
                guard stack.count - (marks.last ?? 0) >= 2 else { throw fail("BUILD needs an object and its state on the stack") }
                let state = stack.removeLast()
                try build(stack.last!, state: state)
            case 0x51: // BINPERSID
                guard stack.count > (marks.last ?? 0) else { throw fail("BINPERSID needs a persistent id on the stack") }
                try push(try persistentLoad(stack.removeLast()))
            case 0x2E: // STOP
                guard marks.isEmpty else { throw fail("STOP with \(marks.count) MARK(s) still open") }
                guard stack.count == 1 else { throw fail("STOP with \(stack.count) values on the stack, expected 1") }
                return stack[0]
            default:
                let name = Self.refusedNames[op].map { "opcode \($0) (0x\(hex(op)))" } ?? "unknown opcode 0x\(hex(op))"
                throw fail("\(name) is not one a state dict needs; CNNKit's pickle reader runs only data opcodes")
            }
        }
    }

    // MARK: - Reading bytes

    private mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw fail("the pickle ends inside an opcode's argument") }
        position += 1
        return bytes[position - 1]
    }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= bytes.count - position else {
            throw fail("the opcode's argument needs \(n) bytes, \(bytes.count - position) remain")
        }
        position += n
        return bytes[(position - n)..<position]
    }

    private mutating func le(_ n: Int) throws -> UInt64 {
        var value: UInt64 = 0
        for (i, b) in try take(n).enumerated() { value |= UInt64(b) << (8 * UInt64(i)) }
        return value
    }

    private mutating func text(_ n: Int) throws -> String {
        let raw = try take(n)
        guard let s = String(validating: raw, as: UTF8.self) else { throw fail("a string of \(n) bytes is not UTF-8") }
        return s
    }

    /// A line of GLOBAL's argument (up to 256 bytes, ASCII).
    private mutating func line() throws -> String {
        var out: [UInt8] = []
        while true {
            let b = try byte()
            if b == 0x0A { break }
            guard out.count < 256, b >= 0x20, b < 0x7F else { throw fail("GLOBAL's argument is not two short lines of text") }
            out.append(b)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// LONG1: a little-endian two's complement integer of up to 8 bytes.
    private mutating func long1() throws -> Int {
        let n = Int(try byte())
        guard n <= 8 else { throw fail("LONG1 of \(n) bytes does not fit 64 bits") }
        let raw = try take(n)
        guard n > 0 else { return 0 }
        var value: UInt64 = 0
        for (i, b) in raw.enumerated() { value |= UInt64(b) << (8 * UInt64(i)) }
        if n < 8, raw.last! & 0x80 != 0 { value |= ~0 << (8 * UInt64(n)) }
        return Int(Int64(bitPattern: value))
    }

    private mutating func push(double raw: ArraySlice<UInt8>) {
        var bits: UInt64 = 0
        for b in raw { bits = bits << 8 | UInt64(b) }
        stack.append(.float(Double(bitPattern: bits)))
    }

    // MARK: - Stack, memo, arena

    private mutating func push(_ value: PickleValue) throws {
        guard stack.count < limits.maxStack else { throw over("the stack size", limits.maxStack) }
        stack.append(value)
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw fail("no MARK is open") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private mutating func put(_ index: Int) throws {
        guard stack.count > (marks.last ?? 0) else { throw fail("memo put with an empty stack") }
        if memo[index] == nil {
            guard memo.count < limits.maxMemo else { throw over("the memo size", limits.maxMemo) }
        }
        memo[index] = stack.last!
    }

    private func get(_ index: Int) throws -> PickleValue {
        guard let value = memo[index] else { throw fail("memo entry \(index) was never stored") }
        return value
    }

    private mutating func make(_ object: PickleObject, depth: Int) throws -> Int {
        guard depth <= limits.maxDepth else { throw over("the nesting depth", limits.maxDepth) }
        arena.append(object)
        depths.append(depth)
        return arena.count - 1
    }

    private func depth(_ value: PickleValue) -> Int {
        if case let .object(id) = value { return depths[id] }
        return 0
    }

    private func maxDepth(_ values: [PickleValue]) -> Int {
        values.reduce(0) { max($0, depth($1)) }
    }

    private mutating func deepen(_ id: Int, by values: [PickleValue]) throws {
        let needed = 1 + maxDepth(values)
        guard needed <= limits.maxDepth else { throw over("the nesting depth", limits.maxDepth) }
        depths[id] = max(depths[id], needed)
    }

    /// What a value is, for messages.
    func kind(_ value: PickleValue) -> String {
        switch value {
        case .none: "None"
        case .bool: "a bool"
        case .int: "an int"
        case .float: "a float"
        case .string: "a string"
        case let .global(g): g.qualifiedName
        case let .object(id):
            switch arena[id] {
            case .tuple: "a tuple"
            case .list: "a list"
            case let .dict(d): d.ordered ? "an OrderedDict" : "a dict"
            case .storage: "a storage"
            case .tensor: "a tensor"
            }
        }
    }

    private mutating func setItems(on target: PickleValue, _ pairs: [(PickleValue, PickleValue)]) throws {
        guard case let .object(id) = target, case var .dict(dict) = arena[id] else { throw fail("SETITEM(S) on \(kind(target)), not a dict") }
        for (key, value) in pairs {
            switch key {
            case .string, .int: break
            default: throw fail("a dict key is \(kind(key)); a state dict's keys are strings")
            }
            dict.set(key, value)
        }
        try deepen(id, by: pairs.map(\.1))
        arena[id] = .dict(dict)
    }

    private mutating func append(to target: PickleValue, _ values: [PickleValue]) throws {
        guard case let .object(id) = target, case var .list(list) = arena[id] else { throw fail("APPEND(S) on \(kind(target)), not a list") }
        list += values
        try deepen(id, by: values)
        arena[id] = .list(list)
    }

    // MARK: - Globals, REDUCE, BUILD, persistent ids

    private func allow(module: String, name: String) throws -> PickleGlobal {
        guard let global = PickleGlobal(module: module, name: name) else {
            throw fail("global \(module).\(name) is refused: a state dict needs only \(PickleGlobal.allowedText)")
        }
        return global
    }

    private func tuple(_ value: PickleValue) -> [PickleValue]? {
        guard case let .object(id) = value, case let .tuple(items) = arena[id] else { return nil }
        return items
    }

    private func isEmptyDict(_ value: PickleValue) -> Bool {
        guard case let .object(id) = value, case let .dict(d) = arena[id] else { return false }
        return d.keys.isEmpty
    }

    private mutating func reduce(_ callable: PickleValue, _ argsValue: PickleValue) throws -> PickleValue {
        guard case let .global(global) = callable else { throw fail("REDUCE calls \(kind(callable)), not an allowed global") }
        guard let args = tuple(argsValue) else { throw fail("REDUCE of \(global.qualifiedName) with \(kind(argsValue)) as arguments, not a tuple") }
        switch global {
        case .orderedDict:
            guard args.isEmpty else { throw fail("collections.OrderedDict() takes no arguments here, found \(args.count)") }
            return .object(try make(.dict(PickleDict(ordered: true)), depth: 1))
        case .rebuildTensorV2:
            return .object(try make(.tensor(try rebuildTensor(args)), depth: 1))
        case .rebuildParameter:
            guard args.count == 3, case let .object(id) = args[0], case .tensor = arena[id], case .bool = args[1], isEmptyDict(args[2]) else {
                throw fail("torch._utils._rebuild_parameter takes (tensor, requires_grad, empty OrderedDict)")
            }
            return args[0]
        case let .storage(dtype):
            throw fail("torch.\(dtype.storageClass) is called; a storage class appears only in a persistent id")
        }
    }

    /// `_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata])`.
    private func rebuildTensor(_ args: [PickleValue]) throws -> PickledTensor {
        let signature = "torch._utils._rebuild_tensor_v2 takes (storage, offset, size, stride, requires_grad, backward_hooks[, metadata])"
        guard args.count == 6 || args.count == 7 else { throw fail("\(signature); found \(args.count) arguments") }
        guard case let .object(sid) = args[0], case let .storage(key, dtype, count) = arena[sid] else {
            throw fail("\(signature); the storage is \(kind(args[0]))")
        }
        guard case let .int(offset) = args[1], offset >= 0 else { throw fail("\(signature); the offset is not an int of 0 or more") }
        guard let sizeValues = tuple(args[2]), let strideValues = tuple(args[3]) else { throw fail("\(signature); size and stride must be tuples") }
        var shape: [Int] = [], strides: [Int] = []
        for v in sizeValues {
            guard case let .int(n) = v, n >= 0 else { throw fail("a tensor size must be ints of 0 or more") }
            shape.append(n)
        }
        for v in strideValues {
            guard case let .int(n) = v, n >= 0 else { throw fail("a tensor stride must be ints of 0 or more") }
            strides.append(n)
        }
        guard shape.count == strides.count else { throw fail("a tensor has size \(shape) but stride \(strides)") }
        guard shape.count <= 8 else { throw fail("a tensor of rank \(shape.count); at most 8 are read") }
        guard case .bool = args[4] else { throw fail("\(signature); requires_grad is \(kind(args[4]))") }
        guard isEmptyDict(args[5]) else { throw fail("\(signature); backward_hooks must be an empty OrderedDict, found \(kind(args[5]))") }
        if args.count == 7, !isEmptyDict(args[6]) && args[6] != .none { throw fail("\(signature); metadata must be empty") }
        // The last element the view touches must lie inside the storage.
        var elements = 1
        var last = offset
        for (size, stride) in zip(shape, strides) {
            let (e, o1) = elements.multipliedReportingOverflow(by: size)
            guard !o1, e <= 1 << 30 else { throw fail("a tensor of size \(shape) has more than 2^30 elements") }
            elements = e
            if size > 0 {
                let (span, o2) = (size - 1).multipliedReportingOverflow(by: stride)
                let (sum, o3) = last.addingReportingOverflow(span)
                guard !o2, !o3 else { throw fail("a tensor's size \(shape) and stride \(strides) overflow") }
                last = sum
            }
        }
        if elements > 0 {
            guard last < count else {
                throw PyTorchError.storage(file: file, member: "data/\(key)",
                                           reason: "a tensor of size \(shape), stride \(strides) and storage offset \(offset) reaches element \(last), but the storage holds \(count) elements of \(dtype.rawValue)")
            }
        }
        return PickledTensor(storageKey: key, dtype: dtype, storageCount: count, offset: offset, shape: shape, strides: strides)
    }

    private mutating func build(_ target: PickleValue, state: PickleValue) throws {
        // Python's OrderedDict.__reduce__ carries the state dict's attributes (`_metadata`) as a BUILD state.
        guard case let .object(id) = target, case .dict = arena[id] else { throw fail("BUILD on \(kind(target)); only a state dict's attributes are read") }
        guard case let .object(sid) = state, case let .dict(attributes) = arena[sid] else { throw fail("BUILD with \(kind(state)) as state; a dict of attributes expected") }
        for key in attributes.keys {
            guard case .string = key else { throw fail("BUILD with a non-string attribute name") }
        }
    }

    /// `('storage', storage class, key, location, element count)`.
    private mutating func persistentLoad(_ pid: PickleValue) throws -> PickleValue {
        let expected = "a persistent id ('storage', torch.<Type>Storage, key, location, element count)"
        guard let items = tuple(pid), items.count == 5, items[0] == .string("storage"), case let .global(.storage(dtype)) = items[1],
              case let .string(key) = items[2], case .string = items[3], case let .int(count) = items[4] else {
            throw fail("\(expected) expected, found \(kind(pid))")
        }
        guard count >= 0 else { throw fail("storage \(key) has \(count) elements") }
        guard !key.isEmpty, key.utf8.count <= 64, key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw fail("storage key '\(key)' is not a short name of letters, digits and _")
        }
        if let id = storages[key] {
            guard case let .storage(_, previous, previousCount) = arena[id], previous == dtype, previousCount == count else {
                throw fail("storage \(key) is named again with another type or size")
            }
            return .object(id)
        }
        try checkStorage(key, dtype, count)
        let id = try make(.storage(key: key, dtype: dtype, count: count), depth: 1)
        storages[key] = id
        return .object(id)
    }

    // MARK: - The state dict

    /// Runs the pickle and returns the state dict's entries, in order: every key a string, every value a tensor.
    mutating func stateDict() throws -> [(key: String, tensor: PickledTensor)] {
        let root = try run()
        opcodeStart = position
        guard case let .object(id) = root, case let .dict(dict) = arena[id] else {
            throw fail("the pickle holds \(kind(root)), not a state dict (an OrderedDict of tensors); \(PyTorchError.resave)")
        }
        guard dict.keys.count <= limits.maxTensors else {
            throw PyTorchError.limit(file: file, member: member, offset: position, what: "the state dict's \(dict.keys.count) entries", limit: limits.maxTensors)
        }
        var entries: [(key: String, tensor: PickledTensor)] = []
        for (key, value) in zip(dict.keys, dict.values) {
            guard case let .string(name) = key else { throw fail("a state dict key is \(kind(key)), not a string") }
            guard case let .object(vid) = value, case let .tensor(tensor) = arena[vid] else {
                let hint = kind(value).hasSuffix("dict") ? ": this looks like a checkpoint; save the model's state dict alone with torch.save(model.state_dict(), path)" : ""
                throw PyTorchError.tensor(file: file, key: name, reason: "holds \(kind(value)), not a tensor\(hint)")
            }
            entries.append((name, tensor))
        }
        return entries
    }
}

func hex(_ byte: UInt8) -> String {
    let digits = String(byte, radix: 16)
    return digits.count == 1 ? "0" + digits : digits
}

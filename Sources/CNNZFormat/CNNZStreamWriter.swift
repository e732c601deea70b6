#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ConvNet
import ModelArchive

/// Writes a CNNZ file tensor by tensor and chunk by chunk, holding a fixed window of chunks in memory that are
/// encoded on ``CNNZWriteOptions/threads`` threads and written in order, so the bytes do not depend on the thread
/// count (`Schemas/cnnz.md` sections 3 and 9: the index is written last, so the writer never seeks back).
///
/// ```swift
/// try CNNZStreamWriter.write(to: "big.cnnz", architecture: arch) { writer in
///     try writer.beginTensor("dense.kernel", shape: [4096, 4096])
///     for row in rows { try writer.append(row) }          // any number of appends
///     try writer.endTensor()
/// }
/// ```
/// Tensors appear in the file in the order they are written; the document reader expects parameters first,
/// then optimizer slots, then the probe tensors (``CNNZModel/write(_:to:options:)`` keeps that order).
public final class CNNZStreamWriter {
    /// The architecture stored in the header.
    public var architecture: Architecture
    /// The training state's scalars (its `slots` are ignored: write them as ``CNNZTensorRole/optimizerSlot`` tensors).
    public var trainingState: TrainingState?
    /// The probes' source; set it when probe tensors are written.
    public var probesSource: String?
    /// String metadata (written sorted by key; keys starting `cnnz.` are left out: they are derived on reading).
    public var metadata: [String: String]
    /// The options the writer was created with.
    public let options: CNNZWriteOptions

    private let sink: ByteSink
    private var offset: UInt64 = 0
    private var entries: [CNNZHeader.TensorEntry] = []
    private var names: Set<String> = []
    private var current: OpenTensor?
    private var finished = false

    /// The tensor being written.
    private struct OpenTensor {
        var entry: CNNZHeader.TensorEntry
        var dtype: CNNZDType
        var codec: CNNZCodec
        var expected: Int
        var written = 0
        /// Full raw chunks waiting in ``CNNZStreamWriter/slots`` to be encoded together; the next one fills.
        var pending = 0
        /// Raw bytes in the filling slot.
        var filling = 0
    }

    /// One chunk of the window: its raw bytes, then its stored bytes and CRC once encoded. Allocated once per
    /// writer and reused for every chunk.
    private final class ChunkSlot {
        let raw = ChunkBuffer()
        let output = ChunkBuffer()
        var stored = UnsafeRawBufferPointer(start: nil, count: 0)
        var crc: UInt32 = 0
    }

    /// The most raw chunks held before they are encoded in parallel: four per thread (so a thread that the
    /// machine's load delays holds the others up less).
    var window: Int { 4 * max(options.threads, 1) }

    /// The window: at most ``window`` raw chunks held before they are encoded in parallel.
    private lazy var slots: [ChunkSlot] = (0..<window).map { _ in ChunkSlot() }
    /// One coder (shuffle buffer, zstd context) per encoding thread.
    private lazy var coders: [ChunkCoder] = (0..<max(options.threads, 1)).map { _ in ChunkCoder() }

    init(sink: ByteSink, options: CNNZWriteOptions, architecture: Architecture) throws {
        let levels = options.codec.levels
        guard levels.contains(options.level) else {
            throw CNNZError.invalidWrite(reason: "level must be \(levels.lowerBound)-\(levels.upperBound) for \(options.codec.rawValue), found \(options.level)")
        }
        guard options.chunkSize >= 8, options.chunkSize <= CNNZLayout.maxChunkSize, options.chunkSize % 8 == 0 else {
            throw CNNZError.invalidWrite(reason: "chunk size must be a multiple of 8 from 8 to \(CNNZLayout.maxChunkSize), found \(options.chunkSize)")
        }
        self.sink = sink
        self.options = options
        self.architecture = architecture
        self.metadata = [:]
        try emit(CNNZLayout.preamble(minor: options.codec.minorVersion))
    }

    /// Writes a file atomically: `body` writes the tensors, then the header and footer are appended, the file
    /// is flushed with `fsync` and renamed over `path`. On any error nothing is left at `path` (an existing file
    /// there is untouched).
    ///
    /// - Parameters:
    ///   - path: the destination.
    ///   - options: codec, level, dtype and chunk size.
    ///   - architecture: the architecture for the header (may be changed through the writer until `body` returns).
    ///   - body: writes the tensors and sets the other header fields.
    /// - Throws: ``CNNZError/cannotCreate(path:reason:)``, ``CNNZError/writeFailed(path:reason:)``,
    ///   ``CNNZError/invalidWrite(reason:)`` or ``CNNZError/notRepresentable(tensor:dtype:index:value:)``.
    public static func write(to path: String, options: CNNZWriteOptions = .init(), architecture: Architecture,
                             _ body: (CNNZStreamWriter) throws -> Void) throws {
        do {
            try AtomicFile.write(to: path) { temp in
                let fd = open(temp, O_WRONLY | O_TRUNC)
                guard fd >= 0 else { throw CNNZError.cannotCreate(path: path, reason: String(cString: strerror(errno))) }
                defer { close(fd) }
                let writer = try CNNZStreamWriter(sink: FileSink(fd: fd, path: path), options: options, architecture: architecture)
                try body(writer)
                try writer.finish()
            }
        } catch let error as ArchiveError {
            switch error {
            case let .cannotCreate(p, reason): throw CNNZError.cannotCreate(path: p, reason: reason)
            case let .writeFailed(p, reason): throw CNNZError.writeFailed(path: p, reason: reason)
            default: throw CNNZError.writeFailed(path: path, reason: error.description)
            }
        }
    }

    /// Builds a file in memory with the same calls as ``write(to:options:architecture:_:)``.
    ///
    /// - Parameter capacity: the bytes to reserve for the file up front (an estimate; the buffer grows past it).
    public static func encode(options: CNNZWriteOptions = .init(), architecture: Architecture, capacity: Int = 0,
                              _ body: (CNNZStreamWriter) throws -> Void) throws -> [UInt8] {
        let sink = MemorySink(capacity: capacity)
        let writer = try CNNZStreamWriter(sink: sink, options: options, architecture: architecture)
        try body(writer)
        try writer.finish()
        return sink.bytes
    }

    /// Starts a tensor.
    ///
    /// - Parameters:
    ///   - name: unique in the file.
    ///   - shape: the extents; ``append(_:)-(UnsafeBufferPointer<Float>)`` must then supply exactly their product of values.
    ///   - role: what the tensor is to the model document.
    ///   - dtype: the stored dtype; nil takes ``CNNZWriteOptions/dtype``.
    /// - Throws: ``CNNZError/invalidWrite(reason:)`` for a duplicate name, a bad shape or a tensor left open.
    public func beginTensor(_ name: String, shape: [Int], role: CNNZTensorRole = .parameter, dtype: CNNZDType? = nil) throws {
        guard !finished else { throw CNNZError.invalidWrite(reason: "the file is already finished") }
        guard current == nil else { throw CNNZError.invalidWrite(reason: "tensor \(current?.entry.name ?? "") is still open") }
        guard !name.isEmpty else { throw CNNZError.invalidWrite(reason: "a tensor name must not be empty") }
        guard names.insert(name).inserted else { throw CNNZError.invalidWrite(reason: "tensor \(name) is written twice") }
        guard let count = Tensor.elementCount(shape) else { throw CNNZError.invalidWrite(reason: "tensor \(name) has an invalid shape \(shape)") }
        let dtype = dtype ?? options.dtype
        guard count.multipliedReportingOverflow(by: dtype.size).overflow == false else {
            throw CNNZError.invalidWrite(reason: "tensor \(name) is too large")
        }
        let codec = options.codec
        if codec == .raw && count > 0 {
            try emit([UInt8](repeating: 0, count: Int(CNNZLayout.padding(at: offset))))
        }
        let entry = CNNZHeader.TensorEntry(name: name, role: role.rawValue, dtype: dtype.rawValue, codec: codec.rawValue,
                                           shape: shape.map { Int64($0) }, lossy: dtype.isLossyForFloat32 ? true : nil, chunks: [])
        current = OpenTensor(entry: entry, dtype: dtype, codec: codec, expected: count)
    }

    /// Appends values to the open tensor, writing each chunk as it fills.
    ///
    /// - Throws: ``CNNZError/invalidWrite(reason:)`` when no tensor is open or more values come than its shape
    ///   holds; ``CNNZError/notRepresentable(tensor:dtype:index:value:)`` for an integer dtype.
    public func append(_ values: UnsafeBufferPointer<Float>) throws {
        guard var open = current else { throw CNNZError.invalidWrite(reason: "append without beginTensor") }
        guard values.count <= open.expected - open.written else {
            throw CNNZError.invalidWrite(reason: "tensor \(open.entry.name) receives more than its \(open.expected) values")
        }
        current = nil
        let size = open.dtype.size
        let perChunk = options.chunkSize / size
        var start = 0
        while start < values.count {
            let room = perChunk - open.filling / size
            let n = min(room, values.count - start)
            let slot = slots[open.pending].raw.bytes(options.chunkSize)
            try open.dtype.encode(UnsafeBufferPointer(rebasing: values[start..<(start + n)]), to: slot.baseAddress! + open.filling,
                                  tensor: open.entry.name, firstIndex: open.written)
            open.filling += n * size
            open.written += n
            start += n
            if open.filling == perChunk * size { try queueChunk(&open) }
        }
        current = open
    }

    /// Appends values to the open tensor.
    public func append(_ values: [Float]) throws {
        try values.withUnsafeBufferPointer { try append($0) }
    }

    /// Finishes the open tensor, writing its last partial chunk.
    ///
    /// - Throws: ``CNNZError/invalidWrite(reason:)`` when fewer values came than the shape holds.
    public func endTensor() throws {
        guard var open = current else { throw CNNZError.invalidWrite(reason: "endTensor without beginTensor") }
        guard open.written == open.expected else {
            throw CNNZError.invalidWrite(reason: "tensor \(open.entry.name) received \(open.written) of its \(open.expected) values")
        }
        if open.filling > 0 { try queueChunk(&open) }
        try flushChunks(&open)
        entries.append(open.entry)
        current = nil
    }

    /// Writes a whole tensor.
    public func writeTensor(_ name: String, _ tensor: Tensor, role: CNNZTensorRole = .parameter, dtype: CNNZDType? = nil) throws {
        guard Tensor.elementCount(tensor.shape) == tensor.scalars.count else {
            throw CNNZError.invalidWrite(reason: "tensor \(name) has shape \(tensor.shape) but \(tensor.scalars.count) values")
        }
        try beginTensor(name, shape: tensor.shape, role: role, dtype: dtype)
        try append(tensor.scalars)
        try endTensor()
    }

    /// Counts the filled slot into the window, encoding the window when it is full.
    private func queueChunk(_ open: inout OpenTensor) throws {
        slots[open.pending].stored = UnsafeRawBufferPointer(slots[open.pending].raw.bytes(open.filling))
        open.pending += 1
        open.filling = 0
        if open.pending >= window { try flushChunks(&open) }
    }

    /// Encodes the window's chunks in parallel (each thread with its own coder; each chunk's CRC on the thread
    /// that encoded it), then writes them in order.
    private func flushChunks(_ open: inout OpenTensor) throws {
        guard open.pending > 0 else { return }
        let codec = open.codec, size = open.dtype.size, level = options.level, slots = self.slots, coders = self.coders
        try ChunkParallelism.forEach(open.pending, threads: options.threads) { worker, k in
            let slot = slots[k]
            slot.stored = try codec.encode(slot.stored, elementSize: size, level: level, coder: coders[worker], output: slot.output)
            slot.crc = CRC32.checksum(slot.stored)
        }
        for slot in slots[0..<open.pending] {
            open.entry.chunks.append(CNNZHeader.ChunkEntry(offset: offset, stored: UInt64(slot.stored.count), crc32: slot.crc))
            try emit(slot.stored)
        }
        open.pending = 0
    }

    /// Writes the header and the footer (section 2.3); called by ``write(to:options:architecture:_:)``.
    func finish() throws {
        guard current == nil else { throw CNNZError.invalidWrite(reason: "tensor \(current?.entry.name ?? "") was not ended") }
        guard !finished else { throw CNNZError.invalidWrite(reason: "the file is already finished") }
        func count(_ role: CNNZTensorRole) -> Int { entries.count { $0.role == role.rawValue } }
        let probeCount = probesSource == nil ? 0 : 1
        guard count(.probeInputs) == probeCount, count(.probeOutputs) == probeCount else {
            throw CNNZError.invalidWrite(reason: "a file with probes holds one probe_inputs and one probe_outputs tensor and sets probesSource; one without holds neither")
        }
        guard trainingState != nil || count(.optimizerSlot) == 0 else {
            throw CNNZError.invalidWrite(reason: "optimizer slot tensors need a training state")
        }
        var state = trainingState
        state?.slots = []
        // Section 4.4: `cnnz.` keys are derived from the file on reading (cnnz.lossy from the tensors' lossy flags,
        // which record what this writer stored), so none is copied from the document.
        let header = CNNZHeader(architecture: architecture, chunkSize: options.chunkSize, metadata: metadata.filter { !$0.key.hasPrefix("cnnz.") },
                                probes: probesSource.map { CNNZHeader.ProbesEntry(source: $0) }, tensors: entries,
                                trainingState: state)
        let json = try header.encoded()
        let headerOffset = offset
        try emit(json)
        try emit(CNNZLayout.footer(headerOffset: headerOffset, headerLength: UInt64(json.count), headerCRC: CRC32.checksum(json)))
        try sink.flush()
        finished = true
    }

    private func emit(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try emit($0) }
    }

    private func emit(_ bytes: UnsafeRawBufferPointer) throws {
        try sink.write(bytes)
        offset += UInt64(bytes.count)
    }
}

import ConvNet
import Dispatch
import Foundation
import ModelArchive

/// Reads a CNNZ file: checks its whole structure when opened, then reads tensors one at a time on demand
/// (`Schemas/cnnz.md` section 6 lists the rules it enforces).
///
/// Opening reads only the preamble, footer and header: every size, offset and chunk of the table is checked
/// against the file and the caps in ``CNNZReadOptions`` before anything is allocated. Reading a tensor checks
/// its padding, each chunk's CRC-32 and its exact decoded size.
public final class CNNZReader {
    /// The file path or the name given for in-memory bytes (used in error messages).
    public let file: String
    public let fileSize: UInt64
    public let majorVersion: Int
    public let minorVersion: Int
    public let architecture: Architecture
    /// The training state's scalars; its slots are the ``CNNZTensorRole/optimizerSlot`` tensors.
    public let trainingState: TrainingState?
    /// The probes' source when the file holds probes.
    public let probesSource: String?
    /// The metadata as stored (``metadata`` adds `cnnz.lossy`).
    public let storedMetadata: [String: String]
    /// The raw bytes per chunk.
    public let chunkSize: Int
    /// Every tensor, in file order.
    public let tensors: [CNNZTensorInfo]
    public let headerOffset: UInt64
    public let headerLength: UInt64
    public let options: CNNZReadOptions

    private let source: ByteSource
    /// The decoding threads' buffers and zstd contexts, kept from one tensor to the next.
    private let coders = ChunkCoderPool()
    /// The tensors whose chunk CRCs and padding were checked for views.
    private let viewChecks = ViewChecks()

    /// Opens and checks a file.
    ///
    /// - Throws: ``CNNZError/missingFile(path:reason:)`` when it cannot be opened, otherwise a ``CNNZError``
    ///   of category `.invalidInput` naming what is wrong and where.
    public convenience init(path: String, options: CNNZReadOptions = .init()) throws {
        let source: ByteSource = options.mapFile ? try MappedSource(path: path) : try FileSource(path: path)
        try self.init(source: source, file: path, options: options)
    }

    /// Checks a file held in memory; `name` stands for the file in error messages.
    public convenience init(bytes: [UInt8], name: String, options: CNNZReadOptions = .init()) throws {
        try self.init(source: MemorySource(bytes), file: name, options: options)
    }

    init(source: ByteSource, file: String, options: CNNZReadOptions) throws {
        self.source = source
        self.file = file
        self.options = options
        let size = source.size
        fileSize = size
        func at(_ offset: UInt64?, tensor: String? = nil, chunk: Int? = nil) -> CNNZLocation {
            CNNZLocation(file: file, offset: offset, tensor: tensor, chunk: chunk)
        }

        // Section 2.1: signature, version, preamble CRC.
        let signature = CNNZLayout.signature
        let head = try Self.read(source, file: file, at: 0, count: min(size, UInt64(CNNZLayout.preambleSize)), what: "preamble")
        guard head.starts(with: signature.prefix(head.count)), !head.isEmpty else {
            throw CNNZError.badMagic(at(0), found: Array(head.prefix(signature.count)))
        }
        guard size >= UInt64(CNNZLayout.preambleSize) else {
            throw CNNZError.truncated(at(0), what: "preamble", needed: UInt64(CNNZLayout.preambleSize), available: size)
        }
        var cursor = ByteCursor(head, base: 0, file: file, what: "preamble")
        _ = try cursor.take(signature.count)
        let major = Int(try cursor.read(UInt8.self))
        let minor = Int(try cursor.read(UInt8.self))
        _ = try cursor.read(UInt8.self)
        let preambleCRC = try cursor.read(UInt32.self)
        let computed = head.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<12])) }
        guard preambleCRC == computed else {
            throw CNNZError.checksumMismatch(at(12), region: .preamble, expected: preambleCRC, found: computed)
        }
        guard major == CNNZLayout.majorVersion else { throw CNNZError.unsupportedVersion(at(9), major: major, minor: minor) }
        majorVersion = major
        minorVersion = minor

        // Section 2.3: the footer.
        let minimum = UInt64(CNNZLayout.preambleSize + CNNZLayout.footerSize)
        guard size >= minimum else {
            throw CNNZError.truncated(at(UInt64(CNNZLayout.preambleSize)), what: "footer", needed: UInt64(CNNZLayout.footerSize),
                                      available: size - UInt64(CNNZLayout.preambleSize))
        }
        let footerOffset = size - UInt64(CNNZLayout.footerSize)
        let footer = try Self.read(source, file: file, at: footerOffset, count: UInt64(CNNZLayout.footerSize), what: "footer")
        let footerCRC = footer.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<28])) }
        var fc = ByteCursor(footer, base: footerOffset, file: file, what: "footer")
        let headerOffset = try fc.read(UInt64.self)
        let headerLength = try fc.read(UInt64.self)
        let headerCRC = try fc.read(UInt32.self)
        let marker = Array(try fc.take(4))
        _ = try fc.read(UInt32.self)
        let storedFooterCRC = try fc.read(UInt32.self)
        guard storedFooterCRC == footerCRC, marker == CNNZLayout.endMarker else {
            if let end = try Self.findEarlierEnd(source, file: file) {
                throw CNNZError.trailingBytes(at(end), count: size - end)
            }
            if storedFooterCRC != footerCRC {
                throw CNNZError.checksumMismatch(at(footerOffset + 28), region: .footer, expected: storedFooterCRC, found: footerCRC)
            }
            throw CNNZError.badFooter(at(footerOffset + 20), reason: "end marker is \(marker), expected CNNZ")
        }

        // Section 2.2: the header lies between the data and the footer, exactly.
        guard headerOffset >= UInt64(CNNZLayout.preambleSize), headerOffset <= footerOffset else {
            throw CNNZError.headerOutOfBounds(at(footerOffset), reason: "header offset \(headerOffset) is outside bytes 16...\(footerOffset)")
        }
        let (headerEnd, overflow) = headerOffset.addingReportingOverflow(headerLength)
        guard !overflow, headerEnd <= footerOffset else {
            throw CNNZError.headerOutOfBounds(at(footerOffset + 8), reason: "header of \(headerLength) bytes at byte \(headerOffset) runs past the footer at byte \(footerOffset)")
        }
        guard headerEnd == footerOffset else {
            throw CNNZError.headerOutOfBounds(at(headerEnd), reason: "\(footerOffset - headerEnd) unaccounted bytes between the header and the footer")
        }
        guard headerLength <= options.maxHeaderBytes else {
            throw CNNZError.limitExceeded(at(headerOffset), what: "header length", found: headerLength, limit: options.maxHeaderBytes)
        }
        self.headerOffset = headerOffset
        self.headerLength = headerLength
        let headerBytes = try Self.read(source, file: file, at: headerOffset, count: headerLength, what: "header")
        let computedHeaderCRC = CRC32.checksum(headerBytes)
        guard computedHeaderCRC == headerCRC else {
            throw CNNZError.checksumMismatch(at(headerOffset), region: .header, expected: headerCRC, found: computedHeaderCRC)
        }

        // Section 4: the JSON.
        let header = try CNNZHeader.decode(headerBytes, location: at(headerOffset))
        guard header.chunkSize >= 8, header.chunkSize <= CNNZLayout.maxChunkSize, header.chunkSize % 8 == 0 else {
            throw CNNZError.malformedHeader(at(headerOffset), reason: "chunk_size \(header.chunkSize) is not a multiple of 8 from 8 to \(CNNZLayout.maxChunkSize)")
        }
        guard header.tensors.count <= options.maxTensorCount else {
            throw CNNZError.limitExceeded(at(headerOffset), what: "tensor count", found: UInt64(header.tensors.count),
                                          limit: UInt64(max(options.maxTensorCount, 0)))
        }
        chunkSize = header.chunkSize
        architecture = header.architecture
        trainingState = header.trainingState
        probesSource = header.probes?.source
        storedMetadata = header.metadata
        tensors = try Self.checkTable(header, file: file, headerOffset: headerOffset, options: options)

        func count(_ role: CNNZTensorRole) -> Int { tensors.count { $0.role == role } }
        let probeCount = header.probes == nil ? 0 : 1
        guard count(.probeInputs) == probeCount, count(.probeOutputs) == probeCount else {
            throw CNNZError.malformedHeader(at(headerOffset), reason: header.probes == nil
                ? "probe tensors without a 'probes' entry"
                : "'probes' needs exactly one probe_inputs and one probe_outputs tensor")
        }
        guard header.trainingState != nil || count(.optimizerSlot) == 0 else {
            throw CNNZError.malformedHeader(at(headerOffset), reason: "optimizer_slot tensors without a 'training_state' entry")
        }
        if options.checksModel {
            try Self.checkModel(tensors, architecture: architecture, trainingState: trainingState, file: file, headerOffset: headerOffset)
        }
        if !options.lazyChecksums {
            for i in tensors.indices where canView(tensors[i]) { try checkForView(i) }
        }
    }

    /// True when a tensor can be viewed in place: the file is mapped and the tensor is stored as raw float32
    /// (64-byte aligned, section 3.2) on a little-endian machine.
    private func canView(_ info: CNNZTensorInfo) -> Bool {
        #if _endian(little)
        return source is MappedSource && info.codec == .raw && info.dtype == .float32 && info.elementCount > 0
        #else
        return false
        #endif
    }

    /// Checks a viewable tensor's padding and (when ``CNNZReadOptions/verifyChecksums``) every chunk's CRC, once.
    private func checkForView(_ index: Int) throws {
        guard !viewChecks.contains(index) else { return }
        let info = tensors[index]
        try checkPadding(info)
        if options.verifyChecksums {
            let data = try source.withContiguousBytes(at: info.dataOffset, count: Int(info.rawBytes)) { try checkChunks(info, data: $0) }
            guard data != nil else { throw CNNZError.readFailed(path: file, reason: "tensor \(info.name) lies outside the mapping") }
        }
        viewChecks.insert(index)
    }

    /// A tensor's values: borrowed from the mapping without a copy when the file was opened with
    /// ``CNNZReadOptions/mapFile`` and the tensor is stored as raw float32, else read as ``readTensor(at:)``
    /// reads it. A borrowed view keeps the mapping alive; its chunk CRCs were checked when the file was opened,
    /// or are checked now on the first view with ``CNNZReadOptions/lazyChecksums``.
    ///
    /// The file must not shrink while views of it are in use: the kernel then raises `SIGBUS` when a lost page
    /// is touched (section 10).
    /// - Throws: ``CNNZError/noSuchTensor(_:)``, ``CNNZError/checksumMismatch(_:region:expected:found:)``,
    ///   ``CNNZError/nonzeroPadding(_:)``, or what ``readTensor(at:)`` throws.
    public func view(at index: Int) throws -> TensorView {
        guard tensors.indices.contains(index) else {
            throw CNNZError.noSuchTensor(CNNZLocation(file: file, tensor: "#\(index)"))
        }
        let info = tensors[index]
        guard canView(info), let mapping = source as? MappedSource else { return TensorView(try readTensor(at: index)) }
        try checkForView(index)
        let view = mapping.withContiguousBytes(at: info.dataOffset, count: info.elementCount * 4) { bytes in
            TensorView(shape: info.shape, borrowing: bytes.assumingMemoryBound(to: Float.self), owner: mapping)
        }
        guard let view else { throw CNNZError.readFailed(path: file, reason: "tensor \(info.name) lies outside the mapping") }
        return view
    }

    /// Checks the tensor table against the caps and the layout of section 3: chunks in table order, each
    /// starting where the previous ended (after alignment padding for `raw` tensors), the last ending where the
    /// header begins.
    private static func checkTable(_ header: CNNZHeader, file: String, headerOffset: UInt64,
                                   options: CNNZReadOptions) throws -> [CNNZTensorInfo] {
        var position = UInt64(CNNZLayout.preambleSize)
        var names: Set<String> = []
        var infos: [CNNZTensorInfo] = []
        infos.reserveCapacity(header.tensors.count)
        let chunkSize = UInt64(header.chunkSize)
        for entry in header.tensors {
            let name = entry.name
            func at(_ offset: UInt64? = nil, chunk: Int? = nil) -> CNNZLocation {
                CNNZLocation(file: file, offset: offset, tensor: name, chunk: chunk)
            }
            guard !name.isEmpty else { throw CNNZError.invalidTensorEntry(at(headerOffset), reason: "empty tensor name") }
            guard names.insert(name).inserted else { throw CNNZError.duplicateTensor(at(headerOffset)) }
            guard let role = CNNZTensorRole(rawValue: entry.role) else { throw CNNZError.unknownRole(at(headerOffset), name: entry.role) }
            guard let dtype = CNNZDType(rawValue: entry.dtype) else { throw CNNZError.unknownDType(at(headerOffset), name: entry.dtype) }
            guard let codec = CNNZCodec(rawValue: entry.codec) else { throw CNNZError.unknownCodec(at(headerOffset), name: entry.codec) }
            guard entry.shape.count <= options.maxRank else {
                throw CNNZError.limitExceeded(at(headerOffset), what: "rank", found: UInt64(entry.shape.count), limit: UInt64(max(options.maxRank, 0)))
            }
            var elements: UInt64 = 1
            for extent in entry.shape {
                guard extent >= 0 else { throw CNNZError.sizeOverflow(at(headerOffset), reason: "negative extent \(extent) in shape \(entry.shape)") }
                let (product, overflow) = elements.multipliedReportingOverflow(by: UInt64(extent))
                guard !overflow else { throw CNNZError.sizeOverflow(at(headerOffset), reason: "the element count of shape \(entry.shape) does not fit in 64 bits") }
                elements = product
            }
            guard elements <= options.maxElementCount, let elementCount = Int(exactly: elements) else {
                throw CNNZError.limitExceeded(at(headerOffset), what: "element count", found: elements, limit: options.maxElementCount)
            }
            let (rawBytes, overflow) = elements.multipliedReportingOverflow(by: UInt64(dtype.size))
            guard !overflow else { throw CNNZError.sizeOverflow(at(headerOffset), reason: "\(elements) elements of \(dtype.rawValue) do not fit in 64 bits") }
            let expectedChunks = rawBytes == 0 ? 0 : (rawBytes - 1) / chunkSize + 1
            guard UInt64(entry.chunks.count) == expectedChunks else {
                throw CNNZError.invalidTensorEntry(at(headerOffset), reason: "\(entry.chunks.count) chunks listed, expected \(expectedChunks) for \(rawBytes) raw bytes in chunks of \(chunkSize)")
            }
            if entry.lossy == true && !dtype.isLossyForFloat32 {
                throw CNNZError.invalidTensorEntry(at(headerOffset), reason: "\"lossy\": true on a \(dtype.rawValue) tensor, which holds float32 values exactly (only float16 and bfloat16 are lossy)")
            }
            let paddingOffset = position
            if codec == .raw && !entry.chunks.isEmpty {
                position += CNNZLayout.padding(at: position)
            }
            let dataOffset = position
            var chunks: [CNNZChunkInfo] = []
            chunks.reserveCapacity(entry.chunks.count)
            var storedBytes: UInt64 = 0
            for (k, chunk) in entry.chunks.enumerated() {
                let raw = min(chunkSize, rawBytes - UInt64(k) * chunkSize)
                guard chunk.offset >= position else {
                    throw CNNZError.overlappingChunk(at(chunk.offset, chunk: k), expectedOffset: position, foundOffset: chunk.offset)
                }
                guard chunk.offset == position else {
                    throw CNNZError.gap(at(position, chunk: k), expectedOffset: position, foundOffset: chunk.offset)
                }
                switch codec {
                case .raw:
                    guard chunk.stored == raw else {
                        throw CNNZError.invalidTensorEntry(at(chunk.offset, chunk: k), reason: "a raw chunk stores \(chunk.stored) bytes, expected \(raw)")
                    }
                case .deflate, .shuffleDeflate, .shuffleZstd:
                    // Section 6: no stream expands more than its codec allows, checked before any allocation.
                    let ratio = codec == .shuffleZstd ? CNNZLayout.maxZstdRatio : CNNZLayout.maxDeflateRatio
                    let (limit, overflow) = chunk.stored.multipliedReportingOverflow(by: ratio)
                    guard chunk.stored > 0, overflow || raw <= limit else {
                        throw CNNZError.invalidTensorEntry(at(chunk.offset, chunk: k), reason: "\(chunk.stored) stored bytes cannot decompress to \(raw) raw bytes with \(codec.rawValue)")
                    }
                }
                let (end, endOverflow) = position.addingReportingOverflow(chunk.stored)
                guard !endOverflow, end <= headerOffset else {
                    throw CNNZError.overlappingChunk(at(chunk.offset, chunk: k), expectedOffset: position, foundOffset: chunk.offset)
                        .runningInto(header: headerOffset, stored: chunk.stored)
                }
                chunks.append(CNNZChunkInfo(offset: chunk.offset, storedBytes: chunk.stored, rawBytes: raw, crc32: chunk.crc32))
                storedBytes += chunk.stored
                position = end
            }
            infos.append(CNNZTensorInfo(name: name, role: role, dtype: dtype, codec: codec, shape: entry.shape.map { Int($0) },
                                        elementCount: elementCount, rawBytes: rawBytes, storedBytes: storedBytes,
                                        lossy: entry.lossy ?? false, chunks: chunks, paddingOffset: paddingOffset, dataOffset: dataOffset))
        }
        guard position == headerOffset else {
            throw CNNZError.gap(CNNZLocation(file: file, offset: position), expectedOffset: position, foundOffset: headerOffset)
        }
        return infos
    }

    /// Looks for a valid footer ending before the end of the file, to report appended bytes as such.
    private static func findEarlierEnd(_ source: ByteSource, file: String) throws -> UInt64? {
        let size = source.size
        let window = min(size, UInt64(1 << 20) + UInt64(CNNZLayout.footerSize))
        let start = size - window
        let tail = try read(source, file: file, at: start, count: window, what: "footer")
        let footerSize = CNNZLayout.footerSize
        guard tail.count > footerSize else { return nil }
        return tail.withUnsafeBytes { raw -> UInt64? in
            var p = tail.count - footerSize - 1
            while p >= 0 {
                let footerStart = start + UInt64(p)
                if footerStart >= UInt64(CNNZLayout.preambleSize),
                   raw[p + 20] == 0x43, raw[p + 21] == 0x4E, raw[p + 22] == 0x4E, raw[p + 23] == 0x5A,
                   CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[p..<(p + 28)])) == raw.loadUnaligned(fromByteOffset: p + 28, as: UInt32.self).littleEndian {
                    let headerOffset = raw.loadUnaligned(fromByteOffset: p, as: UInt64.self).littleEndian
                    let headerLength = raw.loadUnaligned(fromByteOffset: p + 8, as: UInt64.self).littleEndian
                    let (end, overflow) = headerOffset.addingReportingOverflow(headerLength)
                    if !overflow, end == footerStart { return footerStart + UInt64(footerSize) }
                }
                p -= 1
            }
            return nil
        }
    }

    /// Reads `count` bytes at `offset` after checking that they lie inside the file.
    static func read(_ source: ByteSource, file: String, at offset: UInt64, count: UInt64, what: String) throws -> [UInt8] {
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard !overflow, end <= source.size, let n = Int(exactly: count) else {
            throw CNNZError.truncated(CNNZLocation(file: file, offset: offset), what: what, needed: count,
                                      available: source.size - min(offset, source.size))
        }
        var bytes = [UInt8](repeating: 0, count: n)
        try bytes.withUnsafeMutableBytes { try source.read(into: $0, at: offset) }
        return bytes
    }

    /// The index of the tensor with this name.
    public func index(of name: String) -> Int? {
        tensors.firstIndex { $0.name == name }
    }

    /// The metadata as the document sees it: the stored metadata without its `cnnz.` keys, plus `cnnz.lossy` listing
    /// `name:dtype` of every lossy tensor, comma-separated in file order, when there is one (section 4.4).
    public var metadata: [String: String] {
        // Stored `cnnz.` keys are ignored: they are derived from the file (older writers stored a cnnz.lossy that
        // could be stale).
        var result = storedMetadata.filter { !$0.key.hasPrefix("cnnz.") }
        let lossy = tensors.filter(\.lossy).map { "\($0.name):\($0.dtype.rawValue)" }
        if !lossy.isEmpty { result["cnnz.lossy"] = lossy.joined(separator: ",") }
        return result
    }

    /// Reads one tensor by name.
    ///
    /// - Throws: ``CNNZError/noSuchTensor(_:)`` or what ``readTensor(at:)`` throws.
    public func readTensor(named name: String) throws -> Tensor {
        guard let i = index(of: name) else { throw CNNZError.noSuchTensor(CNNZLocation(file: file, tensor: name)) }
        return try readTensor(at: i)
    }

    /// Reads one tensor, converting its values to float32.
    ///
    /// Memory: the tensor plus one stored and one raw chunk per decoding thread (``CNNZReadOptions/threads``).
    /// - Throws: ``CNNZError/nonzeroPadding(_:)``, ``CNNZError/checksumMismatch(_:region:expected:found:)`` (when
    ///   ``CNNZReadOptions/verifyChecksums``), ``CNNZError/decompressionFailed(_:reason:)``, or an I/O error.
    public func readTensor(at index: Int) throws -> Tensor {
        guard tensors.indices.contains(index) else {
            throw CNNZError.noSuchTensor(CNNZLocation(file: file, tensor: "#\(index)"))
        }
        let info = tensors[index]
        try checkPadding(info)
        let count = info.elementCount
        // Every element is written below (or the array is dropped with the error); Float needs no initialization.
        let scalars = try [Float](unsafeUninitializedCapacity: count) { out, initialized in
            initialized = count
            guard let base = out.baseAddress else { return }
            try readChunks(info, into: base)
        }
        return Tensor(shape: info.shape, scalars: scalars)
    }

    /// Decodes every chunk of a tensor into `base[0..<info.elementCount]`, checking CRCs when asked.
    private func readChunks(_ info: CNNZTensorInfo, into base: UnsafeMutablePointer<Float>) throws {
        #if _endian(little)
        if info.codec == .raw && info.dtype == .float32 && source is FileSource {
            // Straight from the file into the tensor with one pread: one copy, then the CRCs over what arrived.
            let out = UnsafeMutableRawBufferPointer(start: base, count: info.elementCount * 4)
            try source.read(into: out, at: info.dataOffset)
            if options.verifyChecksums { try checkChunks(info, data: UnsafeRawBufferPointer(out)) }
            return
        }
        #endif
        // Chunks are independent: chunk k holds elements from k * perChunk on (section 3.3), so they decode in
        // parallel into disjoint parts of the tensor, each thread with its own reused buffers and zstd context.
        let perChunk = chunkSize / info.dtype.size
        let workers = min(max(options.threads, 1), info.chunks.count)
        do {
            try coders.withCoders(workers) { coders in
                try ChunkParallelism.forEach(info.chunks.count, threads: workers) { worker, k in
                    try self.decodeChunk(k, of: info, into: base + k * perChunk, coder: coders[worker])
                }
            }
        } catch let error as CNNZError {
            throw error
        } catch {
            throw CNNZError.readFailed(path: file, reason: "\(error)")
        }
    }

    /// Checks one chunk's CRC and decodes it into `out`.
    private func decodeChunk(_ k: Int, of info: CNNZTensorInfo, into out: UnsafeMutablePointer<Float>, coder: ChunkCoder) throws {
        let chunk = info.chunks[k]
        let count = Int(chunk.rawBytes) / info.dtype.size
        guard let storedCount = Int(exactly: chunk.storedBytes) else {
            throw CNNZError.truncated(CNNZLocation(file: file, offset: chunk.offset), what: "chunk", needed: chunk.storedBytes, available: 0)
        }
        func decode(_ stored: UnsafeRawBufferPointer) throws {
            if options.verifyChecksums { try check(chunk, k, info, crc: CRC32.checksum(stored)) }
            do {
                try info.codec.decode(stored, count: count, dtype: info.dtype, coder: coder, into: out)
            } catch let failure as ChunkDecodeFailure {
                throw CNNZError.decompressionFailed(CNNZLocation(file: file, offset: chunk.offset, tensor: info.name, chunk: k),
                                                    reason: failure.reason)
            }
        }
        if try source.withContiguousBytes(at: chunk.offset, count: storedCount, { try decode($0) }) != nil { return }
        let stored = coder.stored.bytes(storedCount)
        try source.read(into: stored, at: chunk.offset)
        try decode(UnsafeRawBufferPointer(stored))
    }

    /// Checks that the alignment padding before a tensor's data is zero (section 3.2).
    private func checkPadding(_ info: CNNZTensorInfo) throws {
        guard info.dataOffset > info.paddingOffset else { return }
        let padding = try Self.read(source, file: file, at: info.paddingOffset, count: info.dataOffset - info.paddingOffset, what: "padding")
        guard padding.allSatisfy({ $0 == 0 }) else {
            throw CNNZError.nonzeroPadding(CNNZLocation(file: file, offset: info.paddingOffset, tensor: info.name))
        }
    }

    /// Checks the CRC of every chunk of a raw tensor whose bytes are `data`, on every core: raw chunks are
    /// contiguous and each holds chunkSize bytes but the last.
    private func checkChunks(_ info: CNNZTensorInfo, data raw: UnsafeRawBufferPointer) throws {
        var found = [UInt32](repeating: 0, count: info.chunks.count)
        let size = chunkSize, chunks = info.chunks
        try found.withUnsafeMutableBufferPointer { slots in
            try ChunkParallelism.forEach(chunks.count, threads: options.threads) { k in
                let start = k * size, end = min(start + Int(chunks[k].rawBytes), raw.count)
                slots[k] = CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[min(start, end)..<end]))
            }
        }
        for (k, chunk) in info.chunks.enumerated() { try check(chunk, k, info, crc: found[k]) }
    }

    private func check(_ chunk: CNNZChunkInfo, _ k: Int, _ info: CNNZTensorInfo, crc: UInt32) throws {
        guard crc == chunk.crc32 else {
            throw CNNZError.checksumMismatch(CNNZLocation(file: file, offset: chunk.offset, tensor: info.name, chunk: k),
                                             region: .chunk, expected: chunk.crc32, found: crc)
        }
    }

    /// Reads every tensor into a model document (section 4.2 says how roles map to its parts).
    public func readDocument() throws -> ModelDocument {
        var parameters: [NamedTensor] = []
        var slots: [NamedTensor] = []
        var probeInputs: Tensor?
        var probeOutputs: Tensor?
        for (i, info) in tensors.enumerated() {
            let tensor = try readTensor(at: i)
            switch info.role {
            case .parameter: parameters.append(NamedTensor(name: info.name, tensor: tensor))
            case .optimizerSlot: slots.append(NamedTensor(name: info.name, tensor: tensor))
            case .probeInputs: probeInputs = tensor
            case .probeOutputs: probeOutputs = tensor
            }
        }
        var state = trainingState
        state?.slots = slots
        var probes: Probes?
        if let probesSource, let probeInputs, let probeOutputs {
            probes = Probes(inputs: probeInputs, outputs: probeOutputs, source: probesSource)
        }
        return ModelDocument(architecture: architecture, tensors: parameters, trainingState: state, probes: probes, metadata: metadata)
    }
}

private extension CNNZError {
    /// Rewrites an overlap into the header as such.
    func runningInto(header: UInt64, stored: UInt64) -> CNNZError {
        guard case let .overlappingChunk(l, _, found) = self else { return self }
        return .invalidTensorEntry(l, reason: "a chunk of \(stored) bytes at byte \(found) runs into the header at byte \(header)")
    }
}

/// The indices of the tensors whose view checks passed; safe to use from several threads.
private final class ViewChecks: @unchecked Sendable {
    private let lock = NSLock()
    private var checked: Set<Int> = []

    func contains(_ index: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return checked.contains(index)
    }

    func insert(_ index: Int) {
        lock.lock()
        checked.insert(index)
        lock.unlock()
    }
}

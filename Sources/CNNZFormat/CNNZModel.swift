import ConvNet
import ModelArchive

/// Whole-document reading and writing of CNNZ files (`Schemas/cnnz.md`).
public enum CNNZModel {
    /// Reads a whole file into a document, checking every checksum (unless turned off in `options`).
    ///
    /// - Parameters:
    ///   - path: the file.
    ///   - options: the caps and whether chunk CRCs are checked.
    /// - Throws: ``CNNZError/missingFile(path:reason:)`` when the file cannot be opened, otherwise a
    ///   ``CNNZError`` of category `.invalidInput` naming the place.
    public static func read(path: String, options: CNNZReadOptions = .init()) throws -> ModelDocument {
        try CNNZReader(path: path, options: options).readDocument()
    }

    /// Reads a file held in memory; `name` stands for the file in error messages.
    ///
    /// - Throws: a ``CNNZError`` of category `.invalidInput`.
    public static func read(bytes: [UInt8], name: String, options: CNNZReadOptions = .init()) throws -> ModelDocument {
        try CNNZReader(bytes: bytes, name: name, options: options).readDocument()
    }

    /// Writes a document atomically (temporary file in the same folder, `fsync`, rename).
    ///
    /// Order in the file: parameters, optimizer slots, probe inputs, probe outputs. Parameters and slots are
    /// stored as ``CNNZWriteOptions/dtype``; probe inputs as uint8 when every value is a whole number in
    /// 0...255 (else float32); probe outputs as float32.
    /// - Throws: ``CNNZError/cannotCreate(path:reason:)``, ``CNNZError/writeFailed(path:reason:)``,
    ///   ``CNNZError/invalidWrite(reason:)`` or ``CNNZError/notRepresentable(tensor:dtype:index:value:)``.
    public static func write(_ document: ModelDocument, to path: String, options: CNNZWriteOptions = .init()) throws {
        try CNNZStreamWriter.write(to: path, options: options, architecture: document.architecture) { try fill($0, with: StreamedModel(document: document)) }
    }

    /// The bytes ``write(_:to:options:)`` would write.
    public static func encode(_ document: ModelDocument, options: CNNZWriteOptions = .init()) throws -> [UInt8] {
        // Room for every tensor stored raw plus the worst zstd expansion (about 1/256) and the header.
        let stored = (document.tensors + (document.trainingState?.slots ?? [])).reduce(0) { $0 + $1.tensor.count } * max(options.dtype.size, 4)
        let payload = stored + (document.probes.map { ($0.inputs.count + $0.outputs.count) * 4 } ?? 0)
        let capacity = min(payload + payload / 128 + (1 << 20), 1 << 40)
        return try CNNZStreamWriter.encode(options: options, architecture: document.architecture, capacity: capacity) {
            try fill($0, with: StreamedModel(document: document))
        }
    }

    /// Writes a model whose tensors are fetched one at a time, in the order and with the dtypes of
    /// ``write(_:to:options:)``: the same document gives the same bytes either way, and only one tensor (plus
    /// one chunk) is held at a time.
    public static func write(_ model: StreamedModel, to path: String, options: CNNZWriteOptions = .init()) throws {
        try CNNZStreamWriter.write(to: path, options: options, architecture: model.architecture) { try fill($0, with: model) }
    }

    private static func fill(_ writer: CNNZStreamWriter, with model: StreamedModel) throws {
        writer.metadata = model.metadata
        writer.trainingState = model.trainingState
        for t in model.parameters { try writer.writeTensor(t.name, try model.fetch(t), role: .parameter) }
        for t in model.slots { try writer.writeTensor(t.name, try model.fetch(t), role: .optimizerSlot) }
        if let probes = model.probes {
            writer.probesSource = probes.source
            let inputType: CNNZDType = CNNZDType.uint8.holdsExactly(probes.inputs.scalars) ? .uint8 : .float32
            try writer.writeTensor("probes.inputs", probes.inputs, role: .probeInputs, dtype: inputType)
            try writer.writeTensor("probes.outputs", probes.outputs, role: .probeOutputs, dtype: .float32)
        }
    }
}

import ConvNet

/// A tensor's name and shape, known before its values are read.
public struct TensorDescriptor: Sendable, Hashable {
    /// The tensor's name.
    public var name: String
    /// Its shape.
    public var shape: [Int]

    /// A descriptor.
    public init(name: String, shape: [Int]) {
        self.name = name
        self.shape = shape
    }
}

extension NamedTensor {
    /// The tensor's name and shape.
    public var descriptor: TensorDescriptor { TensorDescriptor(name: name, shape: tensor.shape) }
}

/// How one tensor is stored in its file, where the format says.
public struct TensorStorage: Sendable, Hashable, Encodable {
    /// The stored dtype (`float32`, `float16`, ...).
    public var dtype: String
    /// How it is stored (`raw`, `shuffle-deflate`, ...).
    public var codec: String
    /// Bytes in the file, when known.
    public var storedBytes: Int?
    /// Bytes once decoded.
    public var rawBytes: Int

    /// How one tensor is stored.
    public init(dtype: String, codec: String, storedBytes: Int?, rawBytes: Int) {
        self.dtype = dtype
        self.codec = codec
        self.storedBytes = storedBytes
        self.rawBytes = rawBytes
    }

    enum CodingKeys: String, CodingKey { case dtype, codec, storedBytes = "stored_bytes", rawBytes = "raw_bytes" }
}

/// The small parts of a model file, read and checked when it is opened: everything but the tensors' values.
public struct ModelHeader: Sendable {
    /// The architecture (read, given, or inferred).
    public var architecture: Architecture
    /// The training state's scalars; its `slots` are always empty (they are ``slots``).
    public var trainingState: TrainingState?
    /// The probes, if the file has them.
    public var probes: Probes?
    /// The metadata as ``ModelDocument/metadata`` would hold it.
    public var metadata: [String: String]
    /// The parameters, in the order the file lists them.
    public var parameters: [TensorDescriptor]
    /// The optimizer slots (named as `TrainingState/slotName(parameter:slot:)`), in file order.
    public var slots: [TensorDescriptor]

    /// A header from its parts; the slot tensors of `trainingState` are dropped (``slots`` names them).
    public init(architecture: Architecture, trainingState: TrainingState? = nil, probes: Probes? = nil, metadata: [String: String] = [:],
                parameters: [TensorDescriptor], slots: [TensorDescriptor] = []) {
        self.architecture = architecture
        var state = trainingState
        state?.slots = []
        self.trainingState = state
        self.probes = probes
        self.metadata = metadata
        self.parameters = parameters
        self.slots = slots
    }
}

/// A model file opened for reading one tensor at a time: the small parts (``ModelHeader``) are read when it is
/// opened, each tensor only when asked.
///
/// Every format's ``ModelFileFormat/openReader(path:architecture:)`` returns one; ``StreamedModel`` turns it
/// into the source that every writer and the verifier read from.
public protocol TensorStreamReader: AnyObject {
    /// Architecture, training-state scalars, probes, metadata, and the tensors' names and shapes.
    var header: ModelHeader { get }
    /// Reads one tensor (a parameter or a slot), checked as the format requires (checksums, sizes).
    func readTensor(named name: String) throws -> Tensor
    /// The format's version or variant, as `inspect` shows it ("1.0", "Keras legacy full model (.h5)").
    var formatVersion: String { get }
    /// How a tensor is stored, when the format tells more than float32 values.
    func storage(of name: String) -> TensorStorage?
    /// What was inferred rather than read, when the file carries no architecture and none was given (a PyTorch
    /// state dict's `nn.Sequential`); also recorded in ``metadata``.
    var inferredArchitecture: String? { get }
    /// One tensor (a parameter or a slot) as a view: borrowed from the file's mapping without a copy where the
    /// reader mapped the file and the tensor is stored as raw float32 (CNNZ opened with
    /// ``ModelFileFormat/openMappedReader(path:architecture:)``), else the values ``readTensor(named:)`` reads.
    /// Checked as ``readTensor(named:)`` checks.
    func view(named name: String) throws -> TensorView
}

extension TensorStreamReader {
    /// The architecture (``ModelHeader/architecture``).
    public var architecture: Architecture { header.architecture }
    /// The training state's scalars; its `slots` are empty (they are the ``slotTensors``).
    public var trainingState: TrainingState? { header.trainingState }
    /// The probes, if any.
    public var probes: Probes? { header.probes }
    /// The metadata as ``ModelDocument/metadata`` would hold it.
    public var metadata: [String: String] { header.metadata }
    /// The parameters, in the order the file lists them.
    public var parameterTensors: [TensorDescriptor] { header.parameters }
    /// The optimizer slots, in file order.
    public var slotTensors: [TensorDescriptor] { header.slots }
    public func view(named name: String) throws -> TensorView { TensorView(try readTensor(named: name)) }
    public var formatVersion: String { "" }
    public func storage(of name: String) -> TensorStorage? { nil }
    public var inferredArchitecture: String? { nil }
}

/// A reader over a model already in memory: for formats whose files are parsed whole when they are opened,
/// and for library users who hold a ``ModelDocument``.
public final class DocumentReader: TensorStreamReader {
    /// The document read from.
    public let document: ModelDocument
    /// The format version to report.
    public let formatVersion: String
    public let header: ModelHeader
    private let byName: [String: Tensor]

    /// A reader over `document`.
    public init(_ document: ModelDocument, formatVersion: String = "") {
        self.document = document
        self.formatVersion = formatVersion
        let slots = document.trainingState?.slots ?? []
        header = ModelHeader(architecture: document.architecture, trainingState: document.trainingState, probes: document.probes,
                             metadata: document.metadata, parameters: document.tensors.map(\.descriptor), slots: slots.map(\.descriptor))
        var byName: [String: Tensor] = [:]
        for t in document.tensors + slots where byName[t.name] == nil { byName[t.name] = t.tensor }
        self.byName = byName
    }

    /// - Throws: `ConvNetError/missingParameter(name:)` for a name the document does not hold.
    public func readTensor(named name: String) throws -> Tensor {
        guard let t = byName[name] else { throw ConvNetError.missingParameter(name: name) }
        return t
    }
}

/// A model whose tensors are fetched one at a time: the one source every writer and the verifier read from,
/// whether the model is in a file (``init(reader:)``) or in memory (``init(document:)``).
///
/// Its small parts are a ``ModelHeader``, whose fields read and write as the model's own (`model.architecture`,
/// `model.parameters`, `model.metadata[key] = value`). A writer calls ``fetch(_:)`` once per tensor, in the order
/// its format stores them, and lets go of each tensor before asking for the next, so a conversion holds one
/// tensor at a time.
@dynamicMemberLookup
public struct StreamedModel {
    /// Architecture, training-state scalars (nil drops the state), probes, metadata, and the names and shapes of
    /// the parameters (in the architecture's order) and optimizer slots (none without a training state).
    public var header: ModelHeader
    /// Returns a tensor by name (one of the header's parameters or slots).
    public var tensor: (String) throws -> Tensor

    /// A field of ``header``.
    public subscript<Value>(dynamicMember field: WritableKeyPath<ModelHeader, Value>) -> Value {
        get { header[keyPath: field] }
        set { header[keyPath: field] = newValue }
    }

    /// A model from its parts and a function that reads a tensor by name.
    public init(architecture: Architecture, trainingState: TrainingState?, probes: Probes?, metadata: [String: String],
                parameters: [TensorDescriptor], slots: [TensorDescriptor], tensor: @escaping (String) throws -> Tensor) {
        self.init(header: ModelHeader(architecture: architecture, trainingState: trainingState, probes: probes, metadata: metadata,
                                      parameters: parameters, slots: slots), tensor: tensor)
    }

    /// A model from a header and a function that reads a tensor by name; without a training state it has no slots.
    public init(header: ModelHeader, tensor: @escaping (String) throws -> Tensor) {
        self.header = header
        if header.trainingState == nil { self.header.slots = [] }
        self.tensor = tensor
    }

    /// A model read from `reader` on demand.
    public init(reader: any TensorStreamReader) {
        self.init(header: reader.header, tensor: { [reader] in try reader.readTensor(named: $0) })
    }

    /// A model held in memory.
    public init(document: ModelDocument) {
        self.init(reader: DocumentReader(document))
    }

    /// Drops the training state (``SaveOptions/weightsOnly``).
    public mutating func dropTrainingState() {
        header.trainingState = nil
        header.slots = []
    }

    /// Fetches a tensor and checks that it has the shape its descriptor announced.
    ///
    /// - Throws: `ConvNetError/shapeMismatch(name:expected:found:)` or what ``tensor`` throws.
    public func fetch(_ descriptor: TensorDescriptor) throws -> Tensor {
        let t = try tensor(descriptor.name)
        guard t.shape == descriptor.shape, Tensor.elementCount(t.shape) == t.scalars.count else {
            throw ConvNetError.shapeMismatch(name: descriptor.name, expected: descriptor.shape, found: t.shape)
        }
        return t
    }

    /// Checks, without reading any tensor, that the parameters are exactly those the architecture needs, with
    /// their shapes (`Architecture/checkParameters(_:suffix:)`); the errors are the ones
    /// ``ModelDocument/network()`` would throw.
    public func checkParameters() throws {
        do {
            _ = try header.architecture.checkParameters(header.parameters.map { ($0.name, $0.shape, nil) })
        } catch let mismatch as ParameterMismatch {
            throw mismatch.convNetError
        }
    }

    /// Reads every tensor into a document.
    public func document() throws -> ModelDocument {
        var state = header.trainingState
        state?.slots = try header.slots.map { NamedTensor(name: $0.name, tensor: try fetch($0)) }
        return ModelDocument(architecture: header.architecture, tensors: try header.parameters.map { NamedTensor(name: $0.name, tensor: try fetch($0)) },
                             trainingState: state, probes: header.probes, metadata: header.metadata)
    }

    /// Fetches the parameters in the architecture's order and builds the network (the whole model in memory).
    ///
    /// - Throws: what ``checkParameters()`` or fetching throws.
    public func network() throws -> Network {
        try checkParameters()
        return try Network(architecture: header.architecture, parameters: try header.parameters.map { NamedTensor(name: $0.name, tensor: try fetch($0)) })
    }
}

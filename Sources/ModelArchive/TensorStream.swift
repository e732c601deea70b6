import ConvNet

/// A tensor's name and shape, known before its values are read.
public struct TensorDescriptor: Sendable, Hashable {
    public var name: String
    public var shape: [Int]

    public init(name: String, shape: [Int]) {
        self.name = name
        self.shape = shape
    }
}

/// A model file opened for reading one tensor at a time: the small parts (architecture, training-state
/// scalars, probes, metadata, tensor names and shapes) are read when it is opened, each tensor only when asked.
///
/// Format modules implement it; ``StreamedModel`` pairs any reader with any ``TensorStreamWriter``.
public protocol TensorStreamReader: AnyObject {
    var architecture: Architecture { get }
    /// The training state's scalars; its `slots` are empty (they are the ``slotTensors``).
    var trainingState: TrainingState? { get }
    var probes: Probes? { get }
    /// The metadata as ``ModelDocument/metadata`` would hold it.
    var metadata: [String: String] { get }
    /// The parameters, in the order the document reader would list them.
    var parameterTensors: [TensorDescriptor] { get }
    /// The optimizer slots (named as ``TrainingState/slotName(parameter:slot:)``), in document order.
    var slotTensors: [TensorDescriptor] { get }
    /// Reads one tensor (a parameter or a slot), checking it as the document reader would.
    func readTensor(named name: String) throws -> Tensor
}

/// A model whose tensors are fetched one at a time: what a ``TensorStreamWriter`` writes.
///
/// A writer calls ``tensor`` once per tensor, in the order its format stores them, and lets go of each tensor
/// before asking for the next, so a conversion holds one tensor at a time.
public struct StreamedModel {
    public var architecture: Architecture
    /// The training state's scalars (slots are ``slots``); nil drops the state.
    public var trainingState: TrainingState?
    public var probes: Probes?
    public var metadata: [String: String]
    public var parameters: [TensorDescriptor]
    public var slots: [TensorDescriptor]
    /// Returns a tensor by name (one of ``parameters`` or ``slots``).
    public var tensor: (String) throws -> Tensor

    public init(architecture: Architecture, trainingState: TrainingState?, probes: Probes?, metadata: [String: String],
                parameters: [TensorDescriptor], slots: [TensorDescriptor], tensor: @escaping (String) throws -> Tensor) {
        self.architecture = architecture
        var state = trainingState
        state?.slots = []
        self.trainingState = state
        self.probes = probes
        self.metadata = metadata
        self.parameters = parameters
        self.slots = trainingState == nil ? [] : slots
        self.tensor = tensor
    }

    /// A model read from `reader` on demand.
    public init(reader: TensorStreamReader) {
        self.init(architecture: reader.architecture, trainingState: reader.trainingState, probes: reader.probes,
                  metadata: reader.metadata, parameters: reader.parameterTensors, slots: reader.slotTensors,
                  tensor: { [reader] in try reader.readTensor(named: $0) })
    }

    /// A model held in memory.
    public init(document: ModelDocument) {
        var byName: [String: Tensor] = [:]
        for t in document.tensors + (document.trainingState?.slots ?? []) where byName[t.name] == nil { byName[t.name] = t.tensor }
        let all = byName
        self.init(architecture: document.architecture, trainingState: document.trainingState, probes: document.probes,
                  metadata: document.metadata,
                  parameters: document.tensors.map { TensorDescriptor(name: $0.name, shape: $0.tensor.shape) },
                  slots: (document.trainingState?.slots ?? []).map { TensorDescriptor(name: $0.name, shape: $0.tensor.shape) },
                  tensor: { name in
                      guard let t = all[name] else { throw ConvNetError.missingParameter(name: name) }
                      return t
                  })
    }

    /// Fetches a tensor and checks that it has the shape its descriptor announced.
    ///
    /// - Throws: ``ConvNetError/shapeMismatch(name:expected:found:)`` or what ``tensor`` throws.
    public func fetch(_ descriptor: TensorDescriptor) throws -> Tensor {
        let t = try tensor(descriptor.name)
        guard t.shape == descriptor.shape, Tensor.elementCount(t.shape) == t.scalars.count else {
            throw ConvNetError.shapeMismatch(name: descriptor.name, expected: descriptor.shape, found: t.shape)
        }
        return t
    }

    /// Checks, without reading any tensor, that the parameters are exactly those the architecture needs, with
    /// their shapes; the errors are the ones ``ModelDocument/network()`` would throw.
    public func checkParameters() throws {
        var byName: [String: [Int]] = [:]
        for t in parameters {
            guard byName.updateValue(t.shape, forKey: t.name) == nil else {
                throw ConvNetError.invalidArchitecture(layer: nil, reason: "tensor \(t.name) is given twice")
            }
        }
        for spec in try architecture.parameterSpecs() {
            guard let shape = byName.removeValue(forKey: spec.name) else { throw ConvNetError.missingParameter(name: spec.name) }
            guard shape == spec.shape else { throw ConvNetError.shapeMismatch(name: spec.name, expected: spec.shape, found: shape) }
        }
        if let extra = byName.keys.sorted().first { throw ConvNetError.unknownParameter(name: extra) }
    }

    /// Reads every tensor into a document (for small models and tests).
    public func document() throws -> ModelDocument {
        var state = trainingState
        state?.slots = try slots.map { NamedTensor(name: $0.name, tensor: try fetch($0)) }
        return ModelDocument(architecture: architecture, tensors: try parameters.map { NamedTensor(name: $0.name, tensor: try fetch($0)) },
                             trainingState: state, probes: probes, metadata: metadata)
    }
}

/// Writes a ``StreamedModel`` to a file, fetching one tensor at a time (atomically, as every writer does).
public protocol TensorStreamWriter {
    func write(_ model: StreamedModel, to path: String) throws
}

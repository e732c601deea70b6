import ConvNet
import ModelArchive

/// Records the tensors a writer fetches from a model, in order: a writer that streams fetches each tensor once.
public final class FetchLog: @unchecked Sendable {
    /// The names fetched, in order.
    public private(set) var names: [String] = []

    public init() {}

    /// A model over `document` whose fetches are recorded here.
    public func model(_ document: ModelDocument) -> StreamedModel {
        let reader = DocumentReader(document)
        var model = StreamedModel(reader: reader)
        model.tensor = { [self] name in
            names.append(name)
            return try reader.readTensor(named: name)
        }
        return model
    }
}

import Foundation

extension DecodingError {
    /// The error as one line saying what is wrong and where (` at .layers[0].kernel`), for the JSON readers of
    /// every module (architecture JSON, CNNZ and safetensors headers).
    ///
    /// - Parameter corrupted: how to word malformed JSON, given the location text and the decoder's description.
    public func summary(corrupted: (_ location: String, _ description: String) -> String) -> String {
        func location(_ context: Context) -> String {
            let p = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return p.isEmpty ? "" : " at \(p)"
        }
        switch self {
        case let .dataCorrupted(context): return corrupted(location(context), context.debugDescription)
        case let .keyNotFound(key, context): return "missing key '\(key.stringValue)'\(location(context))"
        case let .typeMismatch(type, context): return "expected \(type)\(location(context))"
        case let .valueNotFound(type, context): return "expected \(type)\(location(context))"
        @unknown default: return "\(self)"
        }
    }
}

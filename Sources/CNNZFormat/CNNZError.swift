/// Errors of the CNNZ format module.
public enum CNNZError: Error, Sendable {}

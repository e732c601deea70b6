/// Errors of the NumPy module.
public enum NumPyError: Error, Sendable {}

/// Errors of the ONNX module.
public enum ONNXError: Error, Sendable {}

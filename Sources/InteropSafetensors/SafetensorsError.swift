/// Errors of the safetensors module.
public enum SafetensorsError: Error, Sendable {}

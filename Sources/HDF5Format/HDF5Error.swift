/// Errors of the HDF5 format module.
public enum HDF5Error: Error, Sendable {}

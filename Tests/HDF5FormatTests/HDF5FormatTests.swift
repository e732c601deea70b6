import Testing
@testable import HDF5Format

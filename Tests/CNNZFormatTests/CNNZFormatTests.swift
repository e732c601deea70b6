import Testing
@testable import CNNZFormat

import HDF5Format
import Testing

@Suite("HDF5 sink")
struct HDF5SinkTests {
    @Test("chunk shapes stay below 1 MiB and cover the dataset")
    func chunkShapes() {
        #expect(HDF5Sink.chunkShape([3, 3, 1, 16], elementSize: 4) == [3, 3, 1, 16])
        let big = HDF5Sink.chunkShape([100_000, 100], elementSize: 4)
        #expect(big.reduce(4, *) <= HDF5Sink.chunkBytes && big[1] == 100)
    }
}

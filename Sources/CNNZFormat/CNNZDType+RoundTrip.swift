import ConvNet

extension CNNZDType {
    /// Replaces `result`'s values with those a reader gets back after they are stored in this dtype: encoded and decoded exactly as the
    /// writer and the reader do, in place, a block at a time (no second copy of the tensor).
    ///
    /// - Throws: ``CNNZError/notRepresentable(tensor:dtype:index:value:)`` for an integer dtype that cannot
    ///   hold a value.
    public func roundTrip(_ result: inout Tensor, name: String) throws {
        guard self != .float32 else { return }
        let block = 1 << 16
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: block * size, alignment: 16)
        defer { bytes.deallocate() }
        try result.scalars.withUnsafeMutableBufferPointer { values in
            guard let base = values.baseAddress else { return }
            var start = 0
            while start < values.count {
                let n = min(block, values.count - start)
                try encode(UnsafeBufferPointer(start: base + start, count: n), to: bytes.baseAddress!, tensor: name, firstIndex: start)
                decode(UnsafeRawBufferPointer(bytes), count: n, into: base + start)
                start += n
            }
        }
    }
}

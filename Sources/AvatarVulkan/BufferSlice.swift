/// A range of a device buffer holding one tensor's elements (fp32), as bound to a shader.
public struct BufferSlice: @unchecked Sendable {
    // @unchecked: DeviceBuffer is shared by reference; the slice itself is a value.
    public let buffer: DeviceBuffer
    /// Offset and size in bytes.
    public let offset: Int
    public let byteCount: Int

    public init(buffer: DeviceBuffer, offset: Int, byteCount: Int) {
        self.buffer = buffer
        self.offset = offset
        self.byteCount = byteCount
    }

    public var count: Int { byteCount / 4 }

    public func write(_ values: [Float], at element: Int = 0) {
        precondition(element + values.count <= count, "write past the end of the slice")
        buffer.write(values, offset: offset / 4 + element)
    }

    public func read(count n: Int? = nil, at element: Int = 0) -> [Float] {
        buffer.read(count: n ?? count - element, offset: offset / 4 + element)
    }
}

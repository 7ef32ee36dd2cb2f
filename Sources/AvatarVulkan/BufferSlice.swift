/// A byte range of a device buffer holding one tensor's elements, as bound to a shader.
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

    /// Whether a texel-buffer view can cover every element: texel-aligned offset and room in the buffer for
    /// the partial last texel.
    public func texelViewable(alignment: Int, format: TexelFormat = .rgba32f) -> Bool {
        let texel = format.texelBytes
        return offset % alignment == 0 && offset + (byteCount + texel - 1) / texel * texel <= buffer.byteCount
    }

    /// Number of fp32 elements the slice holds.
    public var count: Int { byteCount / 4 }

    /// A sub-range in bytes (for views such as one head or one batch item).
    public func subslice(byteOffset: Int, byteCount: Int) throws(VulkanError) -> BufferSlice {
        guard byteOffset >= 0, byteCount >= 0, byteOffset + byteCount <= self.byteCount else {
            throw VulkanError(call: "subslice [\(byteOffset), +\(byteCount)) of a \(self.byteCount)-byte slice",
                              result: VulkanError.usage)
        }
        return BufferSlice(buffer: buffer, offset: offset + byteOffset, byteCount: byteCount)
    }

    public func write(bytes: UnsafeRawBufferPointer, at byteOffset: Int = 0) throws(VulkanError) {
        guard byteOffset >= 0, byteOffset + bytes.count <= byteCount else {
            throw VulkanError(call: "write of \(bytes.count) bytes at \(byteOffset) into a \(byteCount)-byte slice",
                              result: VulkanError.usage)
        }
        try buffer.write(bytes: bytes, at: offset + byteOffset)
    }

    public func read(into destination: UnsafeMutableRawBufferPointer, at byteOffset: Int = 0) throws(VulkanError) {
        guard byteOffset >= 0, byteOffset + destination.count <= byteCount else {
            throw VulkanError(call: "read of \(destination.count) bytes at \(byteOffset) from a \(byteCount)-byte slice",
                              result: VulkanError.usage)
        }
        try buffer.read(into: destination, from: offset + byteOffset)
    }

    /// Writes fp32 values starting at element `element`.
    public func write(_ values: [Float], at element: Int = 0) throws(VulkanError) {
        try values.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in Result { () throws(VulkanError) in try write(bytes: raw, at: element * 4) } }.get()
    }

    /// Reads `n` fp32 values (default: to the end) starting at element `element`.
    public func read(count n: Int? = nil, at element: Int = 0) throws(VulkanError) -> [Float] {
        var values = [Float](repeating: 0, count: n ?? (count - element))
        try values.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in Result { () throws(VulkanError) in try read(into: raw, at: element * 4) } }.get()
        return values
    }
}

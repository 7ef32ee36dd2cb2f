internal import CVulkan

/// Sub-allocates tensors from one large device buffer (bump allocation, aligned for storage-buffer
/// descriptors), so a network allocates memory once and reuses it: `reset()` between plans, never a
/// `vkAllocateMemory` per tensor.
public final class BufferArena: @unchecked Sendable {
    public let buffer: DeviceBuffer
    private let alignment: Int
    public private(set) var used = 0

    public init(device: VulkanDevice, byteCount: Int) throws(VulkanError) {
        buffer = try DeviceBuffer(device: device, byteCount: byteCount)
        var properties = VkPhysicalDeviceProperties()
        vkGetPhysicalDeviceProperties(device.physical, &properties)
        alignment = max(16, Int(properties.limits.minStorageBufferOffsetAlignment))
    }

    public var capacity: Int { buffer.byteCount }

    /// A slice for `count` floats; throws out-of-device-memory when the arena is full.
    public func allocate(floats count: Int) throws(VulkanError) -> BufferSlice {
        let start = (used + alignment - 1) / alignment * alignment
        let bytes = max(count, 1) * 4
        guard start + bytes <= buffer.byteCount else {
            throw VulkanError(call: "BufferArena.allocate(\(bytes) bytes; \(buffer.byteCount - used) free)", result: -2)
        }
        used = start + bytes
        return BufferSlice(buffer: buffer, offset: start, byteCount: bytes)
    }

    /// Releases every slice at once (the next forward reuses the memory).
    public func reset() { used = 0 }
}

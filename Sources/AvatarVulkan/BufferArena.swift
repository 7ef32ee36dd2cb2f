internal import CVulkan

/// Sub-allocates tensors from one large device buffer (bump allocation, aligned for storage-buffer
/// descriptors), so a network allocates memory once and reuses it: `reset()` between plans, never a
/// `vkAllocateMemory` per tensor. A planned graph (`AvatarGraph`) places its intermediates at planned offsets instead.
public final class BufferArena {
    public let buffer: DeviceBuffer
    /// Offsets are multiples of this (storage and texel-buffer offset alignment, at least 16 bytes).
    public let alignment: Int
    public private(set) var used = 0

    public init(device: VulkanDevice, byteCount: Int, placement: DeviceBuffer.Placement = .hostMapped) throws(VulkanError) {
        buffer = try DeviceBuffer(device: device, byteCount: byteCount, placement: placement)
        alignment = device.bufferAlignment
    }

    public var capacity: Int { buffer.byteCount }

    /// A slice of `bytes` bytes; throws out-of-device-memory when the arena is full.
    public func allocate(bytes: Int) throws(VulkanError) -> BufferSlice {
        let start = (used + alignment - 1) / alignment * alignment
        let size = max(bytes, 4)
        guard start + size <= buffer.byteCount else {
            throw VulkanError(call: "BufferArena.allocate(\(size) bytes; \(buffer.byteCount - used) of \(buffer.byteCount) free)",
                              result: VK_ERROR_OUT_OF_DEVICE_MEMORY.rawValue)
        }
        used = start + size
        return BufferSlice(buffer: buffer, offset: start, byteCount: size)
    }

    /// A slice for `count` fp32 values.
    public func allocate(floats count: Int) throws(VulkanError) -> BufferSlice {
        try allocate(bytes: count * 4)
    }

    /// Releases every slice at once (the next forward reuses the memory).
    public func reset() { used = 0 }
}

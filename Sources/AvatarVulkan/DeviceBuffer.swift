internal import CVulkan
import Foundation

/// A storage buffer with its own memory. Host-visible buffers are mapped for their lifetime; on the CPU
/// driver and on unified-memory GPUs every buffer is host-visible, so uploads need no staging copy.
public final class DeviceBuffer: @unchecked Sendable {
    // @unchecked: the mapping is written only by the thread that owns the buffer's command sequence.
    public let byteCount: Int
    let handle: VkBuffer
    let memory: VkDeviceMemory
    private let device: VulkanDevice
    public let mapped: UnsafeMutableRawPointer?

    public init(device: VulkanDevice, byteCount: Int, hostVisible: Bool = true) throws(VulkanError) {
        self.device = device
        self.byteCount = max(byteCount, 4)
        var info = VkBufferCreateInfo()
        info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO
        info.size = VkDeviceSize(self.byteCount)
        info.usage = UInt32(VK_BUFFER_USAGE_STORAGE_BUFFER_BIT.rawValue | VK_BUFFER_USAGE_TRANSFER_SRC_BIT.rawValue
            | VK_BUFFER_USAGE_TRANSFER_DST_BIT.rawValue)
        info.sharingMode = VK_SHARING_MODE_EXCLUSIVE
        var buffer: VkBuffer?
        var r = vkCreateBuffer(device.handle, &info, nil, &buffer)
        guard r == VK_SUCCESS, let buffer else { throw VulkanError(call: "vkCreateBuffer", result: r.rawValue) }
        var requirements = VkMemoryRequirements()
        vkGetBufferMemoryRequirements(device.handle, buffer, &requirements)
        let hostFlags = UInt32(VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT.rawValue | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT.rawValue)
        let wanted = hostVisible ? hostFlags : UInt32(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT.rawValue)
        guard let type = device.memoryType(bits: requirements.memoryTypeBits, required: wanted)
                ?? device.memoryType(bits: requirements.memoryTypeBits, required: hostFlags) else {
            vkDestroyBuffer(device.handle, buffer, nil)
            throw VulkanError(call: "no suitable memory type", result: -2)
        }
        var allocate = VkMemoryAllocateInfo()
        allocate.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO
        allocate.allocationSize = requirements.size
        allocate.memoryTypeIndex = type
        var memory: VkDeviceMemory?
        r = vkAllocateMemory(device.handle, &allocate, nil, &memory)
        guard r == VK_SUCCESS, let memory else {
            vkDestroyBuffer(device.handle, buffer, nil)
            throw VulkanError(call: "vkAllocateMemory(\(requirements.size) bytes)", result: r.rawValue)
        }
        vkBindBufferMemory(device.handle, buffer, memory, 0)
        var pointer: UnsafeMutableRawPointer?
        let types = withUnsafeBytes(of: device.memoryProperties.memoryTypes) { Array($0.bindMemory(to: VkMemoryType.self)) }
        if types[Int(type)].propertyFlags & UInt32(VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT.rawValue) != 0 {
            vkMapMemory(device.handle, memory, 0, VkDeviceSize(self.byteCount), 0, &pointer)
        }
        self.handle = buffer
        self.memory = memory
        self.mapped = pointer
    }

    deinit {
        if mapped != nil { vkUnmapMemory(device.handle, memory) }
        vkDestroyBuffer(device.handle, handle, nil)
        vkFreeMemory(device.handle, memory, nil)
    }

    /// Copies floats in at `offset` elements.
    public func write(_ values: [Float], offset: Int = 0) {
        precondition((offset + values.count) * 4 <= byteCount, "write past the end of the buffer")
        guard let mapped else { return }
        values.withUnsafeBytes { (mapped + offset * 4).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    /// Reads `count` floats from `offset` elements.
    public func read(count: Int, offset: Int = 0) -> [Float] {
        precondition((offset + count) * 4 <= byteCount, "read past the end of the buffer")
        guard let mapped else { return [] }
        return [Float](unsafeUninitializedCapacity: count) { dst, n in
            UnsafeMutableRawBufferPointer(dst).copyMemory(from: UnsafeRawBufferPointer(start: mapped + offset * 4, count: count * 4))
            n = count
        }
    }
}

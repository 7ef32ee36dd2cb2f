internal import CVulkan
import Foundation

/// A storage buffer with its own memory (one `vkAllocateMemory`; tensors are sub-allocated from it by
/// `BufferArena`).
///
/// - `.hostMapped` memory stays mapped for the buffer's lifetime: per-frame inputs and outputs are written
///   and read in place (on the CPU driver and on unified-memory GPUs every buffer can be like this).
/// - `.deviceLocal` memory is never mapped; `write`/`read` go through a staging buffer and a copy on the
///   device's queue (weights on discrete GPUs).
public final class DeviceBuffer: @unchecked Sendable {
    // @unchecked: the mapping is written only by the thread that owns the buffer's command sequences.
    public enum Placement: Sendable, Equatable {
        case hostMapped
        case deviceLocal
    }

    public let byteCount: Int
    public let placement: Placement
    let handle: VkBuffer
    let memory: VkDeviceMemory
    let device: VulkanDevice
    let mapped: UnsafeMutableRawPointer?

    public init(device: VulkanDevice, byteCount: Int, placement: Placement = .hostMapped) throws(VulkanError) {
        self.device = device
        self.placement = placement
        self.byteCount = max(byteCount, 4)
        var info = VkBufferCreateInfo()
        info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO
        info.size = VkDeviceSize(self.byteCount)
        info.usage = UInt32(VK_BUFFER_USAGE_STORAGE_BUFFER_BIT.rawValue | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT.rawValue
            | VK_BUFFER_USAGE_TRANSFER_SRC_BIT.rawValue | VK_BUFFER_USAGE_TRANSFER_DST_BIT.rawValue)
        info.sharingMode = VK_SHARING_MODE_EXCLUSIVE
        var buffer: VkBuffer?
        var r = vkCreateBuffer(device.handle, &info, nil, &buffer)
        guard r == VK_SUCCESS, let buffer else { throw VulkanError(call: "vkCreateBuffer(\(self.byteCount) bytes)", result: r.rawValue) }
        var requirements = VkMemoryRequirements()
        vkGetBufferMemoryRequirements(device.handle, buffer, &requirements)
        let hostFlags = UInt32(VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT.rawValue | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT.rawValue)
        let localFlag = UInt32(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT.rawValue)
        let type: UInt32?
        switch placement {
        case .hostMapped:
            // Device-local and host-visible (UMA, resizable BAR) first, then any host-visible memory.
            type = device.memoryType(bits: requirements.memoryTypeBits, required: hostFlags | localFlag)
                ?? device.memoryType(bits: requirements.memoryTypeBits, required: hostFlags)
        case .deviceLocal:
            type = device.memoryType(bits: requirements.memoryTypeBits, required: localFlag)
                ?? device.memoryType(bits: requirements.memoryTypeBits, required: 0)
        }
        guard let type else {
            vkDestroyBuffer(device.handle, buffer, nil)
            throw VulkanError(call: "no memory type for a \(placement) buffer", result: VK_ERROR_OUT_OF_DEVICE_MEMORY.rawValue)
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
        r = vkBindBufferMemory(device.handle, buffer, memory, 0)
        guard r == VK_SUCCESS else {
            vkFreeMemory(device.handle, memory, nil)
            vkDestroyBuffer(device.handle, buffer, nil)
            throw VulkanError(call: "vkBindBufferMemory", result: r.rawValue)
        }
        var pointer: UnsafeMutableRawPointer?
        if placement == .hostMapped {
            r = vkMapMemory(device.handle, memory, 0, VkDeviceSize(self.byteCount), 0, &pointer)
            guard r == VK_SUCCESS, pointer != nil else {
                vkFreeMemory(device.handle, memory, nil)
                vkDestroyBuffer(device.handle, buffer, nil)
                throw VulkanError(call: "vkMapMemory", result: r.rawValue)
            }
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

    private func checkRange(_ byteOffset: Int, _ count: Int) throws(VulkanError) {
        guard byteOffset >= 0, count >= 0, byteOffset + count <= byteCount else {
            throw VulkanError(call: "buffer access [\(byteOffset), +\(count)) outside \(byteCount) bytes",
                              result: VulkanError.usage)
        }
    }

    /// Copies bytes in at `byteOffset`: directly into mapped memory, else through a staging buffer.
    public func write(bytes: UnsafeRawBufferPointer, at byteOffset: Int) throws(VulkanError) {
        try checkRange(byteOffset, bytes.count)
        guard bytes.count > 0 else { return }
        if let mapped {
            (mapped + byteOffset).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            return
        }
        let staging = try DeviceBuffer(device: device, byteCount: bytes.count, placement: .hostMapped)
        staging.mapped!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        try device.copy(from: staging, at: 0, to: self, at: byteOffset, byteCount: bytes.count)
    }

    /// Copies bytes out from `byteOffset` (through a staging buffer for device-local memory).
    public func read(into destination: UnsafeMutableRawBufferPointer, from byteOffset: Int) throws(VulkanError) {
        try checkRange(byteOffset, destination.count)
        guard destination.count > 0 else { return }
        if let mapped {
            destination.baseAddress!.copyMemory(from: mapped + byteOffset, byteCount: destination.count)
            return
        }
        let staging = try DeviceBuffer(device: device, byteCount: destination.count, placement: .hostMapped)
        try device.copy(from: self, at: byteOffset, to: staging, at: 0, byteCount: destination.count)
        destination.baseAddress!.copyMemory(from: staging.mapped!, byteCount: destination.count)
    }

    /// Lets `body` fill the first `byteCount` bytes in host memory: the mapping itself for host-mapped
    /// buffers, else a staging buffer that is then copied over in one transfer (bulk weight uploads).
    public func fill(byteCount count: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        try checkRange(0, count)
        guard count > 0 else { return }
        if let mapped {
            try body(UnsafeMutableRawBufferPointer(start: mapped, count: count))
            return
        }
        let staging = try DeviceBuffer(device: device, byteCount: count, placement: .hostMapped)
        try body(UnsafeMutableRawBufferPointer(start: staging.mapped!, count: count))
        try device.copy(from: staging, at: 0, to: self, at: 0, byteCount: count)
    }

    /// Copies floats in at `offset` elements.
    public func write(_ values: [Float], offset: Int = 0) throws(VulkanError) {
        try values.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in Result { () throws(VulkanError) in try write(bytes: raw, at: offset * 4) } }.get()
    }

    /// Reads `count` floats from `offset` elements.
    public func read(count: Int, offset: Int = 0) throws(VulkanError) -> [Float] {
        var values = [Float](repeating: 0, count: count)
        try values.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in Result { () throws(VulkanError) in try read(into: raw, from: offset * 4) } }.get()
        return values
    }
}

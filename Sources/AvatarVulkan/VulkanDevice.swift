internal import CVulkanShims
internal import CVulkan
import Foundation
import Synchronization

/// An opened Vulkan device with one compute queue, a command pool and a persisted pipeline cache.
///
/// Thread confinement: submissions and command recording must come from one thread at a time (the
/// session render thread or the benchmark); the queue is externally synchronized by `queueLock`.
public final class VulkanDevice: @unchecked Sendable {
    public let info: VulkanDeviceInfo
    let instance: VulkanInstance
    let physical: VkPhysicalDevice
    let handle: VkDevice
    let queue: VkQueue
    let queueFamily: UInt32
    let commandPool: VkCommandPool
    let memoryProperties: VkPhysicalDeviceMemoryProperties
    let timestampPeriod: Float
    /// Whether the compute queue supports timestamps (timestampValidBits > 0).
    let timestampsSupported: Bool
    /// minTexelBufferOffsetAlignment (at least 16 bytes).
    public let texelAlignment: Int
    /// Alignment of sub-allocations usable as storage or texel buffers.
    public var bufferAlignment: Int { max(storageAlignment, texelAlignment) }
    /// maxComputeWorkGroupCount.
    let maxWorkGroupCount: (Int, Int, Int)
    /// Descriptor offset alignment for storage buffers (at least 16 bytes).
    public let storageAlignment: Int
    let pipelineCache: PipelineCacheStore
    let queueLock = Mutex(())
    let commandPoolLock = Mutex(())
    /// How long a submission may run before `run()` reports a hang instead of blocking forever.
    public let fenceTimeout: Duration
    private let lostFlag = Atomic<Bool>(false)

    /// Opens the device chosen by `requirement`. `cacheDirectory` holds the pipeline cache file.
    public init(requirement: DeviceRequirement = DeviceRequirement(), cacheDirectory: URL? = nil,
                fenceTimeout: Duration = .seconds(120)) throws {
        self.fenceTimeout = fenceTimeout
        let instance = try VulkanInstance()
        let infos = try instance.devices()
        let chosen = try requirement.select(from: infos)
        var count: UInt32 = 0
        vkEnumeratePhysicalDevices(instance.handle, &count, nil)
        var physical = [VkPhysicalDevice?](repeating: nil, count: Int(count))
        vkEnumeratePhysicalDevices(instance.handle, &count, &physical)
        guard chosen.index < physical.count, let pd = physical[chosen.index] else {
            throw VulkanError(call: "vkEnumeratePhysicalDevices", result: VK_ERROR_INITIALIZATION_FAILED.rawValue)
        }

        var familyCount: UInt32 = 0
        vkGetPhysicalDeviceQueueFamilyProperties(pd, &familyCount, nil)
        var families = [VkQueueFamilyProperties](repeating: VkQueueFamilyProperties(), count: Int(familyCount))
        vkGetPhysicalDeviceQueueFamilyProperties(pd, &familyCount, &families)
        guard let family = families.firstIndex(where: { $0.queueFlags & UInt32(VK_QUEUE_COMPUTE_BIT.rawValue) != 0 }) else {
            throw VulkanError(call: "no compute queue family", result: -3)
        }

        // Enable fp16 arithmetic/storage where present (operators choose variants by these flags).
        var storage16 = VkPhysicalDevice16BitStorageFeatures()
        storage16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES
        storage16.storageBuffer16BitAccess = chosen.storageBuffer16BitAccess ? 1 : 0
        var f16 = VkPhysicalDeviceShaderFloat16Int8Features()
        f16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES
        f16.shaderFloat16 = chosen.shaderFloat16 ? 1 : 0
        var priority: Float = 1
        var device: VkDevice?
        let result: VkResult = withUnsafeMutablePointer(to: &storage16) { s in
            f16.pNext = UnsafeMutableRawPointer(s)
            return withUnsafeMutablePointer(to: &f16) { f in
                withUnsafePointer(to: &priority) { p in
                    var queueInfo = VkDeviceQueueCreateInfo()
                    queueInfo.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO
                    queueInfo.queueFamilyIndex = UInt32(family)
                    queueInfo.queueCount = 1
                    queueInfo.pQueuePriorities = p
                    return withUnsafePointer(to: &queueInfo) { q in
                        var info = VkDeviceCreateInfo()
                        info.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO
                        info.pNext = UnsafeRawPointer(f)
                        info.queueCreateInfoCount = 1
                        info.pQueueCreateInfos = q
                        return vkCreateDevice(pd, &info, nil, &device)
                    }
                }
            }
        }
        guard result == VK_SUCCESS, let device else { throw VulkanError(call: "vkCreateDevice", result: result.rawValue) }
        var queueOut: VkQueue?
        vkGetDeviceQueue(device, UInt32(family), 0, &queueOut)
        guard let queue = queueOut else {
            vkDestroyDevice(device, nil)
            throw VulkanError(call: "vkGetDeviceQueue", result: VK_ERROR_INITIALIZATION_FAILED.rawValue)
        }

        var poolInfo = VkCommandPoolCreateInfo()
        poolInfo.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO
        poolInfo.flags = UInt32(VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT.rawValue)
        poolInfo.queueFamilyIndex = UInt32(family)
        var pool: VkCommandPool?
        let poolResult = vkCreateCommandPool(device, &poolInfo, nil, &pool)
        guard poolResult == VK_SUCCESS, let pool else {
            vkDestroyDevice(device, nil)
            throw VulkanError(call: "vkCreateCommandPool", result: poolResult.rawValue)
        }
        var memory = VkPhysicalDeviceMemoryProperties()
        vkGetPhysicalDeviceMemoryProperties(pd, &memory)
        var properties = VkPhysicalDeviceProperties()
        vkGetPhysicalDeviceProperties(pd, &properties)

        self.info = chosen
        self.instance = instance
        self.physical = pd
        self.handle = device
        self.queue = queue
        self.queueFamily = UInt32(family)
        self.commandPool = pool
        self.memoryProperties = memory
        self.timestampPeriod = properties.limits.timestampPeriod
        self.timestampsSupported = families[family].timestampValidBits > 0 && properties.limits.timestampPeriod > 0
        self.maxWorkGroupCount = (Int(properties.limits.maxComputeWorkGroupCount.0), Int(properties.limits.maxComputeWorkGroupCount.1),
                                  Int(properties.limits.maxComputeWorkGroupCount.2))
        self.texelAlignment = max(16, Int(properties.limits.minTexelBufferOffsetAlignment))
        self.storageAlignment = max(16, Int(properties.limits.minStorageBufferOffsetAlignment))
        self.pipelineCache = PipelineCacheStore(device: device, info: chosen,
                                                file: cacheDirectory?.appendingPathComponent("vulkan-pipelines.cache"))
    }

    deinit {
        vkDeviceWaitIdle(handle)
        pipelineCache.save()
        pipelineCache.destroy()
        vkDestroyCommandPool(handle, commandPool, nil)
        vkDestroyDevice(handle, nil)
    }

    /// Memory type with all `required` property flags among those allowed by `typeBits`.
    func memoryType(bits: UInt32, required: UInt32) -> UInt32? {
        let types = withUnsafeBytes(of: memoryProperties.memoryTypes) { Array($0.bindMemory(to: VkMemoryType.self)) }
        for i in 0..<Int(memoryProperties.memoryTypeCount) where bits & (1 << UInt32(i)) != 0 {
            if types[i].propertyFlags & required == required { return UInt32(i) }
        }
        return nil
    }

    /// Waits until the device is idle (used before teardown and by benchmarks).
    public func waitIdle() throws(VulkanError) {
        let r = queueLock.withLock { _ in vkDeviceWaitIdle(handle) }
        guard r == VK_SUCCESS else { throw VulkanError(call: "vkDeviceWaitIdle", result: r.rawValue) }
    }

    /// True once the driver reported VK_ERROR_DEVICE_LOST; every later submission fails fast.
    public var isLost: Bool { lostFlag.load(ordering: .relaxed) }

    /// Submits one command buffer and waits on its fence (bounded by `fenceTimeout`). Device loss is
    /// remembered so that later calls fail fast with the same error.
    /// Submits a recorded command buffer signalling `fence` (reset first).
    func submit(_ commandBuffer: VkCommandBuffer, fence: VkFence, what: String) throws(VulkanError) {
        guard !isLost else { throw VulkanError(call: what, result: VK_ERROR_DEVICE_LOST.rawValue) }
        var fenceCopy: VkFence? = fence
        var r = vkResetFences(handle, 1, &fenceCopy)
        guard r == VK_SUCCESS else { throw noteLoss(VulkanError(call: "vkResetFences", result: r.rawValue)) }
        var cb: VkCommandBuffer? = commandBuffer
        r = queueLock.withLock { _ in
            withUnsafePointer(to: &cb) { cbp in
                var submit = VkSubmitInfo()
                submit.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO
                submit.commandBufferCount = 1
                submit.pCommandBuffers = cbp
                return vkQueueSubmit(queue, 1, &submit, fence)
            }
        }
        guard r == VK_SUCCESS else { throw noteLoss(VulkanError(call: "vkQueueSubmit(\(what))", result: r.rawValue)) }
    }

    /// Waits for `fence` within `fenceTimeout`; a timeout counts as a lost device.
    func wait(fence: VkFence, what: String) throws(VulkanError) {
        var fenceCopy: VkFence? = fence
        let (seconds, atto) = fenceTimeout.components
        let timeout = UInt64(max(0, seconds)) &* 1_000_000_000 &+ UInt64(max(0, atto) / 1_000_000_000)
        let r = vkWaitForFences(handle, 1, &fenceCopy, 1, timeout)
        guard r == VK_SUCCESS else {
            if r == VK_TIMEOUT {
                // The GPU is hung or the work is far larger than expected; report it as a lost device.
                lostFlag.store(true, ordering: .relaxed)
                throw VulkanError(call: "vkWaitForFences(\(what)) timed out after \(fenceTimeout)", result: VK_ERROR_DEVICE_LOST.rawValue)
            }
            throw noteLoss(VulkanError(call: "vkWaitForFences(\(what))", result: r.rawValue))
        }
    }

    private func noteLoss(_ error: VulkanError) -> VulkanError {
        if error.isDeviceLost { lostFlag.store(true, ordering: .relaxed) }
        return error
    }

    /// Records `body` into a one-time command buffer, submits it and waits (staging copies).
    func oneShot(_ what: String, _ body: (VkCommandBuffer) -> Void) throws(VulkanError) {
        var allocate = VkCommandBufferAllocateInfo()
        allocate.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO
        allocate.commandPool = commandPool
        allocate.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY
        allocate.commandBufferCount = 1
        var cbOut: VkCommandBuffer?
        var r = commandPoolLock.withLock { _ in vkAllocateCommandBuffers(handle, &allocate, &cbOut) }
        guard r == VK_SUCCESS, let cb = cbOut else { throw VulkanError(call: "vkAllocateCommandBuffers", result: r.rawValue) }
        defer { commandPoolLock.withLock { _ in vkFreeCommandBuffers(handle, commandPool, 1, &cbOut) } }
        var fenceInfo = VkFenceCreateInfo()
        fenceInfo.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
        var fenceOut: VkFence?
        r = vkCreateFence(handle, &fenceInfo, nil, &fenceOut)
        guard r == VK_SUCCESS, let fence = fenceOut else { throw VulkanError(call: "vkCreateFence", result: r.rawValue) }
        defer { vkDestroyFence(handle, fence, nil) }
        var begin = VkCommandBufferBeginInfo()
        begin.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO
        begin.flags = UInt32(VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT.rawValue)
        r = vkBeginCommandBuffer(cb, &begin)
        guard r == VK_SUCCESS else { throw VulkanError(call: "vkBeginCommandBuffer", result: r.rawValue) }
        body(cb)
        r = vkEndCommandBuffer(cb)
        guard r == VK_SUCCESS else { throw VulkanError(call: "vkEndCommandBuffer", result: r.rawValue) }
        try submit(cb, fence: fence, what: what)
        try wait(fence: fence, what: what)
    }

    /// A buffer-to-buffer copy on the queue, complete when this returns.
    func copy(from source: DeviceBuffer, at sourceOffset: Int, to destination: DeviceBuffer, at destinationOffset: Int,
              byteCount: Int) throws(VulkanError) {
        try oneShot("staging copy") { cb in
            var region = VkBufferCopy(srcOffset: VkDeviceSize(sourceOffset), dstOffset: VkDeviceSize(destinationOffset),
                                      size: VkDeviceSize(byteCount))
            vkCmdCopyBuffer(cb, source.handle, destination.handle, 1, &region)
            // Make the copy visible to later shader reads and host reads.
            var barrier = VkMemoryBarrier()
            barrier.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
            barrier.srcAccessMask = UInt32(VK_ACCESS_TRANSFER_WRITE_BIT.rawValue)
            barrier.dstAccessMask = UInt32(VK_ACCESS_SHADER_READ_BIT.rawValue | VK_ACCESS_HOST_READ_BIT.rawValue)
            vkCmdPipelineBarrier(cb, UInt32(VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue),
                                 UInt32(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue | VK_PIPELINE_STAGE_HOST_BIT.rawValue),
                                 0, 1, &barrier, 0, nil, 0, nil)
        }
    }

    /// Saves the pipeline cache now (it is also saved on deinit).
    public func savePipelineCache() { pipelineCache.save() }

    public var pipelineCacheStatus: PipelineCacheStore.LoadStatus { pipelineCache.status }
}

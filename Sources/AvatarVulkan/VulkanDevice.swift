internal import CAvatarShims
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
    let pipelineCache: PipelineCacheStore
    let queueLock = Mutex(())
    let commandPoolLock = Mutex(())

    /// Opens the device chosen by `requirement`. `cacheDirectory` holds the pipeline cache file.
    public init(requirement: DeviceRequirement = DeviceRequirement(), cacheDirectory: URL? = nil) throws {
        let instance = try VulkanInstance()
        let infos = try instance.devices()
        let chosen = try requirement.select(from: infos)
        var count: UInt32 = 0
        vkEnumeratePhysicalDevices(instance.handle, &count, nil)
        var physical = [VkPhysicalDevice?](repeating: nil, count: Int(count))
        vkEnumeratePhysicalDevices(instance.handle, &count, &physical)
        guard let pd = physical[chosen.index] else { throw VulkanError(call: "vkEnumeratePhysicalDevices", result: -3) }

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
        var queue: VkQueue?
        vkGetDeviceQueue(device, UInt32(family), 0, &queue)

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
        self.queue = queue!
        self.queueFamily = UInt32(family)
        self.commandPool = pool
        self.memoryProperties = memory
        self.timestampPeriod = properties.limits.timestampPeriod
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

    /// Saves the pipeline cache now (it is also saved on deinit).
    public func savePipelineCache() { pipelineCache.save() }

    public var pipelineCacheStatus: PipelineCacheStore.LoadStatus { pipelineCache.status }
}

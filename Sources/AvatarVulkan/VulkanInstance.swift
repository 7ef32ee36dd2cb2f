internal import CVulkanShims
internal import CVulkan

/// A Vulkan instance on the system loader (API 1.2). Owns nothing else; devices are opened from it.
public final class VulkanInstance: @unchecked Sendable {
    // @unchecked: VkInstance is only used for thread-safe queries after creation.
    let handle: VkInstance

    public init(applicationName: String = "avatard") throws(VulkanError) {
        var instance: VkInstance?
        let result: VkResult = applicationName.withCString { name in
            var app = VkApplicationInfo()
            app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO
            app.pApplicationName = name
            app.pEngineName = name
            app.apiVersion = avd_vk_api_version_1_2()
            return withUnsafePointer(to: &app) { appPointer in
                var info = VkInstanceCreateInfo()
                info.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO
                info.pApplicationInfo = appPointer
                return vkCreateInstance(&info, nil, &instance)
            }
        }
        guard result == VK_SUCCESS, let instance else { throw VulkanError(call: "vkCreateInstance", result: result.rawValue) }
        handle = instance
    }

    deinit { vkDestroyInstance(handle, nil) }

    /// Physical devices with their properties and the features avatard cares about.
    public func devices() throws(VulkanError) -> [VulkanDeviceInfo] {
        var count: UInt32 = 0
        var r = vkEnumeratePhysicalDevices(handle, &count, nil)
        guard r == VK_SUCCESS else { throw VulkanError(call: "vkEnumeratePhysicalDevices", result: r.rawValue) }
        var physical = [VkPhysicalDevice?](repeating: nil, count: Int(count))
        r = vkEnumeratePhysicalDevices(handle, &count, &physical)
        guard r == VK_SUCCESS || r == VK_INCOMPLETE else { throw VulkanError(call: "vkEnumeratePhysicalDevices", result: r.rawValue) }
        return physical.prefix(Int(count)).enumerated().compactMap { index, device in
            device.map { Self.describe($0, index: index) }
        }
    }

    /// Convenience: create an instance and list its devices.
    public static func enumerate() throws(VulkanError) -> [VulkanDeviceInfo] {
        try VulkanInstance().devices()
    }

    static func describe(_ device: VkPhysicalDevice, index: Int) -> VulkanDeviceInfo {
        var driver = VkPhysicalDeviceDriverProperties()
        driver.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES
        var subgroup = VkPhysicalDeviceSubgroupProperties()
        subgroup.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES
        var properties = VkPhysicalDeviceProperties2()
        properties.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2
        withUnsafeMutablePointer(to: &driver) { d in
            subgroup.pNext = UnsafeMutableRawPointer(d)
            withUnsafeMutablePointer(to: &subgroup) { s in
                properties.pNext = UnsafeMutableRawPointer(s)
                vkGetPhysicalDeviceProperties2(device, &properties)
            }
        }
        var f16 = VkPhysicalDeviceShaderFloat16Int8Features()
        f16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES
        var storage16 = VkPhysicalDevice16BitStorageFeatures()
        storage16.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES
        var features = VkPhysicalDeviceFeatures2()
        features.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2
        withUnsafeMutablePointer(to: &storage16) { s in
            f16.pNext = UnsafeMutableRawPointer(s)
            withUnsafeMutablePointer(to: &f16) { f in
                features.pNext = UnsafeMutableRawPointer(f)
                vkGetPhysicalDeviceFeatures2(device, &features)
            }
        }
        let p = properties.properties
        let type: VulkanDeviceType = switch p.deviceType {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: .discrete
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: .integrated
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: .virtual
        case VK_PHYSICAL_DEVICE_TYPE_CPU: .cpu
        default: .other
        }
        let api = p.apiVersion
        return VulkanDeviceInfo(
            index: index, name: Self.string(p.deviceName), type: type, vendorID: p.vendorID, deviceID: p.deviceID,
            driverName: Self.string(driver.driverName), driverInfo: Self.string(driver.driverInfo),
            apiVersion: "\(avd_vk_api_version_major(api)).\(avd_vk_api_version_minor(api)).\(avd_vk_api_version_patch(api))",
            driverVersion: p.driverVersion, subgroupSize: subgroup.subgroupSize,
            subgroupOperations: Self.subgroupOperations(subgroup),
            shaderFloat16: f16.shaderFloat16 != 0, storageBuffer16BitAccess: storage16.storageBuffer16BitAccess != 0,
            cooperativeMatrix: Self.hasExtension(device, "VK_KHR_cooperative_matrix"),
            maxComputeSharedMemory: p.limits.maxComputeSharedMemorySize,
            pipelineCacheUUID: withUnsafeBytes(of: p.pipelineCacheUUID) { Array($0) })
    }

    /// Names of the subgroup operation classes available to compute shaders.
    static func subgroupOperations(_ subgroup: VkPhysicalDeviceSubgroupProperties) -> [String] {
        guard subgroup.supportedStages & UInt32(VK_SHADER_STAGE_COMPUTE_BIT.rawValue) != 0 else { return [] }
        let names: [(VkSubgroupFeatureFlagBits, String)] = [
            (VK_SUBGROUP_FEATURE_BASIC_BIT, "basic"), (VK_SUBGROUP_FEATURE_VOTE_BIT, "vote"),
            (VK_SUBGROUP_FEATURE_ARITHMETIC_BIT, "arithmetic"), (VK_SUBGROUP_FEATURE_BALLOT_BIT, "ballot"),
            (VK_SUBGROUP_FEATURE_SHUFFLE_BIT, "shuffle"), (VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT, "shuffle_relative"),
            (VK_SUBGROUP_FEATURE_CLUSTERED_BIT, "clustered"), (VK_SUBGROUP_FEATURE_QUAD_BIT, "quad"),
        ]
        return names.filter { subgroup.supportedOperations & UInt32($0.0.rawValue) != 0 }.map(\.1)
    }

    static func hasExtension(_ device: VkPhysicalDevice, _ name: String) -> Bool {
        var count: UInt32 = 0
        guard vkEnumerateDeviceExtensionProperties(device, nil, &count, nil) == VK_SUCCESS else { return false }
        var extensions = [VkExtensionProperties](repeating: VkExtensionProperties(), count: Int(count))
        guard vkEnumerateDeviceExtensionProperties(device, nil, &count, &extensions) == VK_SUCCESS else { return false }
        return extensions.contains { string($0.extensionName) == name }
    }

    /// A fixed C char array (imported as a tuple) as a String.
    static func string<T>(_ tuple: T) -> String {
        withUnsafeBytes(of: tuple) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}

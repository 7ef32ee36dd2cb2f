/// A Vulkan failure surfaced to the caller (never a crash): the call, its VkResult and a readable name.
public struct VulkanError: Error, Sendable, Equatable, CustomStringConvertible {
    public let call: String
    public let result: Int32

    public init(call: String, result: Int32) {
        self.call = call
        self.result = result
    }

    public var name: String {
        switch result {
        case -1: "VK_ERROR_OUT_OF_HOST_MEMORY"
        case -2: "VK_ERROR_OUT_OF_DEVICE_MEMORY"
        case -3: "VK_ERROR_INITIALIZATION_FAILED"
        case -4: "VK_ERROR_DEVICE_LOST"
        case -5: "VK_ERROR_MEMORY_MAP_FAILED"
        case -6: "VK_ERROR_LAYER_NOT_PRESENT"
        case -7: "VK_ERROR_EXTENSION_NOT_PRESENT"
        case -8: "VK_ERROR_FEATURE_NOT_PRESENT"
        case -9: "VK_ERROR_INCOMPATIBLE_DRIVER"
        case -10: "VK_ERROR_TOO_MANY_OBJECTS"
        case -1000069000: "VK_ERROR_OUT_OF_POOL_MEMORY"
        case 2: "VK_TIMEOUT"
        case Self.usage: "usage error"
        default: "VkResult \(result)"
        }
    }

    /// Not a VkResult: the engine was used wrongly (an access outside a buffer, a wrong binding count).
    public static let usage: Int32 = .min

    public static func usage(_ message: String) -> VulkanError { VulkanError(call: message, result: usage) }

    public var isDeviceLost: Bool { result == -4 }
    public var isOutOfMemory: Bool { result == -1 || result == -2 }

    public var description: String { result == Self.usage ? "usage error: \(call)" : "\(call) failed: \(name)" }
}

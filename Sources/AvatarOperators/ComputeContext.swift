public import AvatarVulkan
public import Foundation

/// What the daemon holds per device replica: the opened device (with its pipeline cache in the daemon's cache
/// directory) and the shared shader library and operators. Sessions plan their networks on it and run them on
/// their own session threads, never on NIO event loops or the cooperative pool.
public final class ComputeContext: Sendable {
    public let device: VulkanDevice
    public let library: ShaderLibrary
    public let ops: Operators

    /// Opens the device chosen by `requirement`; `cacheDirectory` holds `vulkan-pipelines.cache`.
    public init(requirement: DeviceRequirement, cacheDirectory: URL?, fenceTimeout: Duration = .seconds(120)) throws {
        device = try VulkanDevice(requirement: requirement, cacheDirectory: cacheDirectory, fenceTimeout: fenceTimeout)
        library = ShaderLibrary(device: device)
        ops = Operators(library: library)
    }

    deinit {
        device.savePipelineCache()
    }
}

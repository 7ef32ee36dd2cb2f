public import AvatarVulkan
public import Foundation

/// What the daemon holds per GPU: the opened device (with its pipeline cache in the daemon's cache
/// directory), the shared shader library and operators, and the render thread on which all blocking GPU
/// work runs. Sessions record their networks and run them through `perform`, never on NIO event loops or
/// the cooperative pool.
public final class ComputeContext: Sendable {
    public let device: VulkanDevice
    public let library: ShaderLibrary
    public let ops: Operators
    public let renderThread: RenderThread

    /// Opens the device chosen by `requirement`; `cacheDirectory` holds `vulkan-pipelines.cache`.
    public init(requirement: DeviceRequirement, cacheDirectory: URL?, threadName: String = "avatard-render",
                fenceTimeout: Duration = .seconds(120)) throws {
        device = try VulkanDevice(requirement: requirement, cacheDirectory: cacheDirectory, fenceTimeout: fenceTimeout)
        library = ShaderLibrary(device: device)
        ops = Operators(library: library)
        renderThread = RenderThread(name: threadName)
    }

    /// Runs `body` on the render thread with the operators (record, run, read back).
    public func perform<T: Sendable>(_ body: @escaping @Sendable (Operators) throws -> T) async throws -> T {
        let ops = self.ops
        return try await renderThread.perform { try body(ops) }
    }

    deinit {
        renderThread.stop()
        device.savePipelineCache()
    }
}

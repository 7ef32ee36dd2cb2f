public import AvatarVulkan
import Foundation
import Synchronization

/// The compiled shader variants shipped with avatard (SPIR-V resources built from `Shaders/`), turned into
/// pipelines lazily on first use and shared by every operator on the device.
public final class ShaderLibrary: Sendable {
    public let device: VulkanDevice
    private let pipelines = Mutex<[String: ComputePipeline]>([:])

    public init(device: VulkanDevice) {
        self.device = device
    }

    /// The pipeline for a variant (e.g. "matmul_bt"), created on first request.
    public func pipeline(_ name: String, bindings: Int, pushConstantSize: Int) throws -> ComputePipeline {
        if let p = pipelines.withLock({ $0[name] }) { return p }
        guard let url = Bundle.module.url(forResource: name, withExtension: "spv", subdirectory: "SPIRV"),
              let data = try? Data(contentsOf: url) else {
            throw OperatorError.missingShader(name)
        }
        let created = try ComputePipeline(device: device, name: name, spirv: [UInt8](data), bindings: bindings,
                                          pushConstantSize: pushConstantSize)
        return pipelines.withLock { cache in
            if let existing = cache[name] { return existing }
            cache[name] = created
            return created
        }
    }

    /// Number of pipelines created so far.
    public var pipelineCount: Int { pipelines.withLock { $0.count } }
}

/// Operator misuse or missing resources, reported to the caller.
public enum OperatorError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingShader(String)
    case shape(String)

    public var description: String {
        switch self {
        case .missingShader(let n): "shader variant '\(n)' is not in the SPIR-V resources (run scripts/build-shaders.sh)"
        case .shape(let m): "shape error: \(m)"
        }
    }
}

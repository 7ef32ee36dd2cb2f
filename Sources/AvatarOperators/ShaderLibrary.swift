public import AvatarVulkan
import Foundation
import Synchronization

/// The compiled shader variants shipped with avatard (SPIR-V resources built from `Shaders/`), turned into
/// pipelines lazily on first use and shared by every operator on the device.
///
/// `AVATARD_SPIRV_DIR` points at a directory of `.spv` files that take precedence over the bundled ones
/// (for iterating on a shader without rebuilding avatard; `scripts/build-shaders.sh <dir>` writes them).
public final class ShaderLibrary: Sendable {
    public let device: VulkanDevice
    private let pipelines = Mutex<[String: ComputePipeline]>([:])
    private let overrideDirectory: URL?

    public init(device: VulkanDevice) {
        self.device = device
        overrideDirectory = ProcessInfo.processInfo.environment["AVATARD_SPIRV_DIR"].map { URL(fileURLWithPath: $0) }
    }

    /// The pipeline for a variant (e.g. `Shader.matmulBt`), created on first request. `specialization` values are
    /// specialization constants 0, 1, … (e.g. a local size chosen from the device's subgroup size).
    public func pipeline<P>(_ variant: ShaderVariant<P>, specialization: [UInt32] = []) throws -> TypedPipeline<P> {
        TypedPipeline(pipeline: try pipeline(named: variant.name, bindings: variant.bindings, texelBindings: variant.texelBindings,
                                             pushConstantSize: P.shaderSize, specialization: specialization))
    }

    /// A pipeline by variant name with its layout spelled out (`texelBindings` are `uniform samplerBuffer`
    /// bindings, see `ComputePipeline.texelBindings`). Operators use the typed `pipeline(_:specialization:)`.
    public func pipeline(named name: String, bindings: Int, texelBindings: Set<Int> = [], pushConstantSize: Int,
                         specialization: [UInt32] = []) throws -> ComputePipeline {
        let key = specialization.isEmpty ? name : name + "#" + specialization.map(String.init).joined(separator: ",")
        if let p = pipelines.withLock({ $0[key] }) { return p }
        let created = try ComputePipeline(device: device, name: key, spirv: try spirv(name), bindings: bindings,
                                          texelBindings: texelBindings, pushConstantSize: pushConstantSize,
                                          specialization: specialization)
        return pipelines.withLock { cache in
            if let existing = cache[key] { return existing }
            cache[key] = created
            return created
        }
    }

    /// The SPIR-V words of a variant.
    public func spirv(_ name: String) throws -> [UInt8] {
        if let dir = overrideDirectory, let data = try? Data(contentsOf: dir.appendingPathComponent(name + ".spv")) {
            return [UInt8](data)
        }
        guard let url = Bundle.module.url(forResource: name, withExtension: "spv", subdirectory: "SPIRV"),
              let data = try? Data(contentsOf: url) else {
            throw OperatorError.missingShader(name)
        }
        return [UInt8](data)
    }

    /// Names of the bundled variants.
    public static var variantNames: [String] {
        guard let dir = Bundle.module.url(forResource: "SPIRV", withExtension: nil),
              let files = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return [] }
        return files.filter { $0.hasSuffix(".spv") }.map { String($0.dropLast(4)) }.sorted()
    }

    /// Number of pipelines created so far.
    public var pipelineCount: Int { pipelines.withLock { $0.count } }
}

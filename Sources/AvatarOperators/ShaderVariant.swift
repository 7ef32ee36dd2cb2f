public import AvatarVulkan

/// A push-constant struct mirrored field by field from its shader (std430 push_constant layout: 4-byte
/// scalars, no padding); `shaderSize` is checked against the SPIR-V when the pipeline is created.
public protocol PushConstantBlock: Sendable {
    static var shaderSize: Int { get }
}

/// One compiled shader variant (a line of Shaders/variants.txt), typed by its push-constant struct. The
/// constants live in the generated `Shader` namespace, so a variant that does not exist does not compile.
public struct ShaderVariant<Push: PushConstantBlock>: Sendable {
    public let name: String
    public let bindings: Int
    public let texelBindings: Set<Int>

    public init(_ name: String, bindings: Int, texelBindings: Set<Int>) {
        self.name = name
        self.bindings = bindings
        self.texelBindings = texelBindings
    }
}

/// A variant with its push-constant type erased (for lists such as `Shader.all`).
public struct AnyShaderVariant: Sendable {
    public let name: String
    public let bindings: Int
    public let texelBindings: Set<Int>
    public let pushConstantSize: Int

    public init<P>(_ variant: ShaderVariant<P>) {
        name = variant.name
        bindings = variant.bindings
        texelBindings = variant.texelBindings
        pushConstantSize = P.shaderSize
    }
}

/// A pipeline created from a typed variant: dispatching it takes exactly its push-constant struct.
public struct TypedPipeline<Push: PushConstantBlock> {
    public let pipeline: ComputePipeline
}

extension CommandSequence {
    /// Records a dispatch of a typed pipeline (see `dispatch(_:buffers:push:groups:texelFormats:touched:)`).
    public func dispatch<P>(_ typed: TypedPipeline<P>, buffers: [BufferSlice], push: P, groups: (x: Int, y: Int, z: Int),
                            texelFormats: [Int: TexelFormat] = [:], touched: [Int: Range<Int>] = [:]) throws(VulkanError) {
        try dispatch(typed.pipeline, buffers: buffers, push: push, groups: groups, texelFormats: texelFormats, touched: touched)
    }
}

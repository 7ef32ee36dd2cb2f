/// View format of a texel-buffer binding: 4 elements per texel, read as vec4 of fp32 by the shader.
public enum TexelFormat: Sendable, Equatable {
    /// fp32 storage (16-byte texels).
    case rgba32f
    /// fp16 storage converted to fp32 by the fetch (8-byte texels): fp16 weights without shader extensions.
    case rgba16f

    public var texelBytes: Int { self == .rgba16f ? 8 : 16 }

    /// The view format for a tensor's element type.
    public init(_ type: Tensor.ElementType) { self = type == .float16 ? .rgba16f : .rgba32f }
}

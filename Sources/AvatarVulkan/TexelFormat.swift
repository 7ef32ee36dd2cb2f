/// View format of a texel-buffer binding.
public enum TexelFormat: Sendable, Equatable {
    /// fp32 storage, 4 elements per 16-byte texel, read as vec4.
    case rgba32f
    /// fp16 storage converted to fp32 by the fetch (8-byte texels): fp16 weights without shader extensions.
    case rgba16f
    /// One fp32 per texel (gathers of scalars: lavapipe's texel fetch beats its bounds-checked storage loads).
    case r32f
    /// One uint32 per texel (indices), read with a `usamplerBuffer`.
    case r32ui

    public var texelBytes: Int {
        switch self {
        case .rgba32f: 16
        case .rgba16f: 8
        case .r32f, .r32ui: 4
        }
    }

    /// The view format for a tensor's element type.
    public init(_ type: Tensor.ElementType) { self = type == .float16 ? .rgba16f : .rgba32f }
}

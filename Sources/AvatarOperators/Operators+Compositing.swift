public import AvatarVulkan

extension Operators {
    /// y = x·a + t·(1 − a) over [channels, pixels] images, a [pixels] broadcast over channels. `type`: of x, t
    /// and y (the alpha is fp32 either way).
    public func alphaMix(_ seq: CommandSequence, x: BufferSlice, t: BufferSlice, alpha: BufferSlice, y: BufferSlice,
                         channels: Int, pixels: Int, type: Tensor.ElementType = .float32) throws {
        let n = channels * pixels
        try check(channels > 0 && pixels > 0, "alpha_mix over an empty shape")
        try check(Self.elements(x, type) >= n && Self.elements(t, type) >= n && alpha.count >= pixels && Self.elements(y, type) >= n,
                  "alpha_mix sizes")
        let push = AlphaBlendPush(pixels: Self.u(pixels), cx: Self.u(channels), ct: Self.u(channels), threshold: 0)
        try seq.dispatch(try library.pipeline(type == .float16 ? Shader.alphaMixH : Shader.alphaMix), buffers: [alpha, x, y, t], push: push, groups: Self.groups(n, local: 256))
    }

    /// y = cat(x·a, t·(1 − a)) along channels: x [cx, pixels], t [ct, pixels] → [cx + ct, pixels].
    public func alphaSplit(_ seq: CommandSequence, x: BufferSlice, t: BufferSlice, alpha: BufferSlice, y: BufferSlice,
                           xChannels cx: Int, tChannels ct: Int, pixels: Int, type: Tensor.ElementType = .float32) throws {
        let n = (cx + ct) * pixels
        try check(cx > 0 && ct > 0 && pixels > 0, "alpha_split over an empty shape")
        try check(Self.elements(x, type) >= cx * pixels && Self.elements(t, type) >= ct * pixels && alpha.count >= pixels
                  && Self.elements(y, type) >= n, "alpha_split sizes")
        let push = AlphaBlendPush(pixels: Self.u(pixels), cx: Self.u(cx), ct: Self.u(ct), threshold: 0)
        try seq.dispatch(try library.pipeline(type == .float16 ? Shader.alphaSplitH : Shader.alphaSplit), buffers: [alpha, x, y, t], push: push, groups: Self.groups(n, local: 256))
    }

    /// The renderer's person alpha: y = clamp(torso + (head > threshold ? 1 : head), 0, 1), all [pixels].
    public func personAlpha(_ seq: CommandSequence, head: BufferSlice, torso: BufferSlice, y: BufferSlice, pixels: Int,
                            threshold: Float) throws {
        try check(pixels > 0 && head.count >= pixels && torso.count >= pixels && y.count >= pixels, "person_alpha sizes")
        let push = AlphaBlendPush(pixels: Self.u(pixels), cx: 1, ct: 1, threshold: threshold)
        try seq.dispatch(try library.pipeline(Shader.personAlpha), buffers: [head, torso, y], push: push,
                         groups: Self.groups(pixels, local: 256))
    }

    /// y = clamp(x, lower, upper).
    public func clamp(_ seq: CommandSequence, x: BufferSlice, y: BufferSlice, count: Int, lower: Float, upper: Float) throws {
        try check(count > 0 && x.count >= count && y.count >= count && lower <= upper, "clamp over \(count) elements to [\(lower), \(upper)]")
        try seq.dispatch(try library.pipeline(Shader.unaryClamp), buffers: [x, y], push: UnaryPush(n: Self.u(count), alpha: lower, beta: upper),
                         groups: Self.groups(count, local: 256))
    }
}

/// alpha_blend.comp's fields (std430, 4-byte scalars): pixels per channel, channels of x and t, head threshold.
public struct AlphaBlendPush: PushConstantBlock {
    public var pixels, cx, ct: UInt32
    public var threshold: Float
    public static let shaderSize = 16
}

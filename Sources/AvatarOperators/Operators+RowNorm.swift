public import AvatarVulkan

/// Row norms with one invocation per row (Shaders/row_norm.comp): no barriers, so many short rows stay cheap
/// on CPU devices. Used by the A2M transformer (AvatarMotion).
extension Operators {
    /// F.normalize(x)·scale·γ (+β) over rows of `d`: the same result as `l2Norm`, one invocation per row.
    public func rowL2Norm(_ seq: CommandSequence, x: BufferSlice, gamma: BufferSlice, beta: BufferSlice? = nil, y: BufferSlice,
                          rows: Int, d: Int, scale: Float, eps: Float = 1e-12, type: Tensor.ElementType = .float32) throws {
        try check(rows > 0 && d > 0, "row_l2_norm over \(rows)×\(d)")
        try check(Self.elements(x, type) >= rows * d && Self.elements(y, type) >= rows * d && gamma.count >= d, "row_l2_norm sizes")
        if let beta { try check(beta.count >= d, "row_l2_norm beta holds \(beta.count) < \(d)") }
        let pipeline = try library.pipeline(Self.rowL2NormVariant(type: type))
        try seq.dispatch(pipeline, buffers: [x, gamma, beta ?? gamma, y],
                         push: NormPush(rows: Self.u(rows), d: Self.u(d), eps: eps, scale: scale, hasBeta: beta == nil ? 0 : 1),
                         groups: Self.groups(rows, local: 64))
    }

    /// LayerNorm over rows of `d`: the same result as `layerNorm`, one invocation per row (many short rows: the
    /// motion adapter's tokens).
    public func rowLayerNorm(_ seq: CommandSequence, x: BufferSlice, gamma: BufferSlice, beta: BufferSlice? = nil, y: BufferSlice,
                             rows: Int, d: Int, eps: Float, type: Tensor.ElementType = .float32) throws {
        try check(rows > 0 && d > 0, "row_layer_norm over \(rows)×\(d)")
        try check(Self.elements(x, type) >= rows * d && Self.elements(y, type) >= rows * d && gamma.count >= d, "row_layer_norm sizes")
        if let beta { try check(beta.count >= d, "row_layer_norm beta holds \(beta.count) < \(d)") }
        let pipeline = try library.pipeline(Self.rowLayerNormVariant(type: type))
        try seq.dispatch(pipeline, buffers: [x, gamma, beta ?? gamma, y],
                         push: NormPush(rows: Self.u(rows), d: Self.u(d), eps: eps, scale: 1, hasBeta: beta == nil ? 0 : 1),
                         groups: Self.groups(rows, local: 64))
    }

    /// Per-head q (or k) of the A2M transformer straight from fused qkv rows: for sequence s, head h and
    /// position l, u = normalize(qkv[s·length + l, offset + h·headDim ..< +headDim])·γ[h]·scale, then
    /// rotate-half rotary with host tables cos, sin [length, headDim/2]; y is [sequences, heads, length, headDim].
    /// `gamma` is [heads, headDim]; `rowStride` is the qkv row width.
    public func qkNormRotary(_ seq: CommandSequence, qkv: BufferSlice, gamma: BufferSlice, cos: BufferSlice, sin: BufferSlice,
                             y: BufferSlice, sequences: Int, heads: Int, length: Int, headDim: Int, rowStride: Int, offset: Int,
                             scale: Float, eps: Float = 1e-12, type: Tensor.ElementType = .float32) throws {
        let rows = sequences * heads * length
        try check(rows > 0 && headDim > 0 && headDim % 2 == 0, "qk_norm_rotary over \(sequences)×\(heads)×\(length)×\(headDim)")
        try check(offset >= 0 && offset + heads * headDim <= rowStride, "qk_norm_rotary part \(offset)+\(heads)×\(headDim) exceeds rows of \(rowStride)")
        try check(Self.elements(qkv, type) >= sequences * length * rowStride, "qk_norm_rotary reads \(sequences * length) rows of \(rowStride)")
        try check(Self.elements(y, type) >= rows * headDim && gamma.count >= heads * headDim, "qk_norm_rotary sizes")
        try check(cos.count >= length * headDim / 2 && sin.count >= length * headDim / 2, "qk_norm_rotary tables hold < \(length)×\(headDim / 2)")
        let pipeline = try library.pipeline(Self.qkNormRotaryVariant(type: type))
        let push = QKNormRotaryPush(rows: Self.u(rows), d: Self.u(headDim), heads: Self.u(heads), l: Self.u(length),
                                    rowStride: Self.u(rowStride), offset: Self.u(offset), eps: eps, scale: scale)
        try seq.dispatch(pipeline, buffers: [qkv, gamma, cos, sin, y], push: push, groups: Self.groups(rows, local: 64))
    }
}

// Push constants of these operators, field by field as their shaders declare them (std430, 4-byte scalars).

public struct QKNormRotaryPush: PushConstantBlock {
    public var rows, d, heads, l, rowStride, offset: UInt32
    public var eps, scale: Float
    public static let shaderSize = 32
}

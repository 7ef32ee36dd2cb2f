public import AvatarVulkan

extension Operators {
    /// Output size along one axis of `upConv2d`: the input zero-inserted by 2 (n → 2n − 1), padded, correlated.
    public static func upConvOutput(_ size: Int, kernel: Int, padding: Int) -> Int { 2 * size - 1 + 2 * padding - kernel + 1 }

    /// StyleGAN's up-sampling convolution with the kernel as the renderer bundle stores it (docs/renderer.md §4.2):
    /// x [Cin, H, W] zero-inserted by 2 (H → 2H − 1), zero-padded by `padding`, correlated with weight
    /// [Cout, Cin, KH, KW] (KH, KW ≤ 4; + bias) → [Cout, 2H − 1 + 2·padY − KH + 1, …]. Evaluated polyphase as an implicit GEMM
    /// (conv2d_up_gemm.comp): the inserted zeros are never read, so the 3×3 case costs what conv_transpose2d does.
    public func upConv2d(_ seq: CommandSequence, x: BufferSlice, weight: BufferSlice, bias: BufferSlice?, y: BufferSlice,
                         cin: Int, h: Int, w: Int, cout: Int, kernel: (Int, Int), padding: (Int, Int),
                         type: Tensor.ElementType = .float32) throws {
        try check(cin > 0 && cout > 0 && h > 0 && w > 0 && (1...4).contains(kernel.0) && (1...4).contains(kernel.1)
                  && padding.0 >= 0 && padding.1 >= 0,
                  "up_conv2d shape \(cin)×\(h)×\(w) → \(cout), kernel \(kernel), padding \(padding)")
        let oh = Self.upConvOutput(h, kernel: kernel.0, padding: padding.0)
        let ow = Self.upConvOutput(w, kernel: kernel.1, padding: padding.1)
        try check(oh > 0 && ow > 0, "up_conv2d output is empty")
        try check(Self.elements(x, type) >= cin * h * w, "up_conv2d input holds \(Self.elements(x, type)) < \(cin * h * w)")
        try check(weight.count >= cout * cin * kernel.0 * kernel.1, "up_conv2d weight too small")
        try check(Self.elements(y, type) >= cout * oh * ow, "up_conv2d output holds \(Self.elements(y, type)) < \(cout * oh * ow)")
        if let bias { try check(bias.count >= cout, "up_conv2d bias too small") }
        let push = Conv2dPush(cin: Self.u(cin), h: Self.u(h), w: Self.u(w), cout: Self.u(cout), oh: Self.u(oh), ow: Self.u(ow),
                              kh: Self.u(kernel.0), kw: Self.u(kernel.1), strideY: 2, strideX: 2,
                              padY: Self.u(padding.0), padX: Self.u(padding.1), groups: 1, hasBias: bias == nil ? 0 : 1)
        let texel = x.texelViewable(alignment: device.texelAlignment, format: TexelFormat(type))
            && weight.texelViewable(alignment: device.texelAlignment)
        let wx = Self.subgroupWidth(device)
        let t = Self.convTile
        let variant = type == .float16 ? (texel ? Shader.conv2dUpGemmTexelH : Shader.conv2dUpGemmH) : (texel ? Shader.conv2dUpGemmTexel : Shader.conv2dUpGemm)
        let pipeline = try library.pipeline(variant,
                                            specialization: [Self.u(wx), Self.u(t.wy)])
        // z = output parity (py·2 + px); x covers the largest parity grid (even rows and columns).
        let evenPixels = ((oh + 1) / 2) * ((ow + 1) / 2)
        let tileN = wx * t.tn, tileM = t.wy * t.tm
        try seq.dispatch(pipeline, buffers: [x, weight, bias ?? weight, y], push: push,
                         groups: ((evenPixels + tileN - 1) / tileN, (cout + tileM - 1) / tileM, 4), texelFormats: [0: TexelFormat(type)])
    }

    /// y = lrelu(fir ∗ x + bias[c], slope)·gain over x [C, H, W] zero-padded by (padY, padX): upfirdn2d without
    /// resampling (true convolution, gain folded into `filter` [KH, KW]) with the bias and activation in the same
    /// pass (StyleGAN's up-sampling layer after its convolution: FIR pad 1, bias, lrelu(0.2)·√2).
    public func firBiasActivation(_ seq: CommandSequence, x: BufferSlice, filter: BufferSlice, bias: BufferSlice, y: BufferSlice,
                                  channels c: Int, h: Int, w: Int, taps: (Int, Int), padY: (Int, Int), padX: (Int, Int),
                                  slope: Float, gain: Float, type: Tensor.ElementType = .float32) throws {
        try check(c > 0 && h > 0 && w > 0 && taps.0 > 0 && taps.1 > 0 && min(padY.0, padY.1, padX.0, padX.1) >= 0,
                  "fir_bias_act shape \(c)×\(h)×\(w), taps \(taps), padding \(padY) \(padX)")
        let oh = Self.upfirdnOutput(h, up: 1, down: 1, pad: padY, taps: taps.0)
        let ow = Self.upfirdnOutput(w, up: 1, down: 1, pad: padX, taps: taps.1)
        try check(oh > 0 && ow > 0, "fir_bias_act output is empty")
        try check(Self.elements(x, type) >= c * h * w && Self.elements(y, type) >= c * oh * ow && filter.count >= taps.0 * taps.1 && bias.count >= c,
                  "fir_bias_act sizes")
        let push = FirBiasActPush(c: Self.u(c), h: Self.u(h), w: Self.u(w), oh: Self.u(oh), ow: Self.u(ow), kh: Self.u(taps.0),
                                  kw: Self.u(taps.1), padY0: Int32(padY.0), padX0: Int32(padX.0), slope: slope, gain: gain)
        try seq.dispatch(try library.pipeline(type == .float16 ? Shader.firBiasActH : Shader.firBiasAct), buffers: [x, filter, bias, y], push: push,
                         groups: Self.groups(c * oh * ow, local: 64))
    }
}

/// fir_bias_act.comp's fields (std430, 4-byte scalars).
public struct FirBiasActPush: PushConstantBlock {
    public var c, h, w, oh, ow, kh, kw: UInt32
    public var padY0, padX0: Int32
    public var slope, gain: Float
    public static let shaderSize = 44
}

public import AvatarVulkan

extension Operators {
    public enum ResizeMode: String, Sendable, CaseIterable {
        /// mode='nearest'.
        case nearest
        /// mode='bilinear', align_corners=False.
        case bilinear
        /// mode='bilinear', align_corners=True (UpsamplingBilinear2d).
        case bilinearAlignCorners = "bilinear_align"
        /// mode='bilinear', antialias=True, align_corners=False (the triangle filter widens when downscaling).
        case antialias
    }

    /// Resizes x [C, H, W] to [C, OH, OW].
    public func resize(_ seq: CommandSequence, _ mode: ResizeMode, x: BufferSlice, y: BufferSlice,
                       channels c: Int, from size: (h: Int, w: Int), to out: (h: Int, w: Int), type: Tensor.ElementType = .float32) throws {
        try check(c > 0 && size.h > 0 && size.w > 0 && out.h > 0 && out.w > 0, "resize \(size) → \(out)")
        try check(Self.elements(x, type) >= c * size.h * size.w && Self.elements(y, type) >= c * out.h * out.w, "resize sizes")
        if mode == .antialias {
            // The shader's tap window holds 64 taps: downscale factors up to 31.
            try check(size.h < 31 * out.h && size.w < 31 * out.w, "antialiased downscale beyond 31×")
        }
        let pipeline = try library.pipeline(Self.resizeVariant(mode, type: type))
        try seq.dispatch(pipeline, buffers: [x, y],
                         push: ResizePush(c: Self.u(c), h: Self.u(size.h), w: Self.u(size.w), oh: Self.u(out.h), ow: Self.u(out.w)),
                         groups: Self.groups(c * out.h * out.w, local: 64))
    }

    public enum PoolMode: String, Sendable { case max, avg }

    /// 2-D pooling of x [C, H, W] (max: padding is −inf; avg: count_include_pad=True). For 1-D pooling pass
    /// h = 1 and kernel/stride/padding 1/1/0 along y.
    public func pool2d(_ seq: CommandSequence, _ mode: PoolMode, x: BufferSlice, y: BufferSlice, channels c: Int,
                       h: Int, w: Int, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int) = (0, 0),
                       type: Tensor.ElementType = .float32) throws {
        try check(kernel.0 > 0 && kernel.1 > 0 && stride.0 > 0 && stride.1 > 0, "pool kernel/stride")
        try check(padding.0 >= 0 && padding.1 >= 0 && 2 * padding.0 <= kernel.0 && 2 * padding.1 <= kernel.1,
                  "pool padding must be at most half the kernel (as in PyTorch)")
        let oh = Self.convOutput(h, kernel: kernel.0, stride: stride.0, padding: padding.0)
        let ow = Self.convOutput(w, kernel: kernel.1, stride: stride.1, padding: padding.1)
        try check(oh > 0 && ow > 0, "pool output is empty")
        try check(Self.elements(x, type) >= c * h * w && Self.elements(y, type) >= c * oh * ow, "pool sizes")
        let pipeline = try library.pipeline(Self.pool2dVariant(mode, type: type))
        let push = Pool2dPush(c: Self.u(c), h: Self.u(h), w: Self.u(w), oh: Self.u(oh), ow: Self.u(ow), kh: Self.u(kernel.0),
                              kw: Self.u(kernel.1), strideY: Self.u(stride.0), strideX: Self.u(stride.1),
                              padY: Self.u(padding.0), padX: Self.u(padding.1))
        try seq.dispatch(pipeline, buffers: [x, y], push: push, groups: Self.groups(c * oh * ow, local: 64))
    }

    /// Output size of upfirdn2d along one axis.
    public static func upfirdnOutput(_ size: Int, up: Int, down: Int, pad: (Int, Int), taps: Int) -> Int {
        (size * up + pad.0 + pad.1 - taps) / down + 1
    }

    /// upfirdn2d (StyleGAN2): zero-insertion upsample, pad (negative = crop), true convolution with
    /// `filter` [KH, KW] (gain already folded in), downsample. x [C, H, W].
    public func upfirdn2d(_ seq: CommandSequence, x: BufferSlice, filter: BufferSlice, y: BufferSlice, channels c: Int,
                          h: Int, w: Int, taps: (Int, Int), up: (Int, Int) = (1, 1), down: (Int, Int) = (1, 1),
                          padY: (Int, Int), padX: (Int, Int)) throws {
        try check(up.0 > 0 && up.1 > 0 && down.0 > 0 && down.1 > 0 && taps.0 > 0 && taps.1 > 0, "upfirdn2d factors")
        let oh = Self.upfirdnOutput(h, up: up.0, down: down.0, pad: padY, taps: taps.0)
        let ow = Self.upfirdnOutput(w, up: up.1, down: down.1, pad: padX, taps: taps.1)
        try check(oh > 0 && ow > 0, "upfirdn2d output is empty")
        try check(x.count >= c * h * w && y.count >= c * oh * ow && filter.count >= taps.0 * taps.1, "upfirdn2d sizes")
        let pipeline = try library.pipeline(Shader.upfirdn2d)
        let push = Upfirdn2dPush(c: Self.u(c), h: Self.u(h), w: Self.u(w), oh: Self.u(oh), ow: Self.u(ow), kh: Self.u(taps.0),
                                 kw: Self.u(taps.1), upY: Self.u(up.0), upX: Self.u(up.1), downY: Self.u(down.0), downX: Self.u(down.1),
                                 padY0: Int32(padY.0), padX0: Int32(padX.0))
        try seq.dispatch(pipeline, buffers: [x, filter, y], push: push, groups: Self.groups(c * oh * ow, local: 64))
    }

    /// grid_sample 2-D bilinear: input [C, H, W], grid [P, 2] (x, y in [−1, 1]) → [C, P].
    public func gridSample2D(_ seq: CommandSequence, x: BufferSlice, grid: BufferSlice, y: BufferSlice,
                             c: Int, h: Int, w: Int, points: Int, border: Bool, alignCorners: Bool) throws {
        try check(c > 0 && h > 0 && w > 0 && points > 0, "grid_sample over an empty shape")
        try check(x.count >= c * h * w && grid.count >= points * 2 && y.count >= c * points, "grid_sample sizes")
        let texel = x.texelViewable(alignment: device.texelAlignment)
        let variant = switch (border, alignCorners, texel) {
        case (false, false, false): Shader.gridSample2dZeros
        case (false, true, false): Shader.gridSample2dZerosAlign
        case (true, false, false): Shader.gridSample2dBorder
        case (true, true, false): Shader.gridSample2dBorderAlign
        case (false, false, true): Shader.gridSample2dZerosTexel
        case (false, true, true): Shader.gridSample2dZerosAlignTexel
        case (true, false, true): Shader.gridSample2dBorderTexel
        case (true, true, true): Shader.gridSample2dBorderAlignTexel
        }
        let pipeline = try library.pipeline(variant)
        try seq.dispatch(pipeline, buffers: [x, grid, y], push: GridSamplePush(c: Self.u(c), h: Self.u(h), w: Self.u(w), p: Self.u(points)),
                         groups: Self.groups(points, local: 64))
    }

    /// grid_sample 3-D trilinear: input [C, D, H, W], grid [P, 3] (x, y, z in [−1, 1]) → [C, P].
    public func gridSample3D(_ seq: CommandSequence, x: BufferSlice, grid: BufferSlice, y: BufferSlice,
                             c: Int, d: Int, h: Int, w: Int, points: Int, border: Bool, alignCorners: Bool) throws {
        try check(c > 0 && d > 0 && h > 0 && w > 0 && points > 0, "grid_sample 3-D over an empty shape")
        try check(x.count >= c * d * h * w && grid.count >= points * 3 && y.count >= c * points, "grid_sample 3-D sizes")
        let variant = border ? (alignCorners ? Shader.gridSample3dBorderAlign : Shader.gridSample3dBorder)
                             : (alignCorners ? Shader.gridSample3dZerosAlign : Shader.gridSample3dZeros)
        let pipeline = try library.pipeline(variant)
        try seq.dispatch(pipeline, buffers: [x, grid, y],
                         push: GridSample3dPush(c: Self.u(c), d: Self.u(d), h: Self.u(h), w: Self.u(w), p: Self.u(points)),
                         groups: Self.groups(points, local: 64))
    }
}

// Push constants of these operators, field by field as their shaders declare them (std430, 4-byte scalars).

public struct ResizePush: PushConstantBlock {
    public var c, h, w, oh, ow: UInt32
    public static let shaderSize = 20
}

public struct Pool2dPush: PushConstantBlock {
    public var c, h, w, oh, ow, kh, kw, strideY, strideX, padY, padX: UInt32
    public static let shaderSize = 44
}

public struct Upfirdn2dPush: PushConstantBlock {
    public var c, h, w, oh, ow, kh, kw: UInt32
    public var upY, upX, downY, downX: UInt32
    public var padY0, padX0: Int32
    public static let shaderSize = 52
}

public struct GridSamplePush: PushConstantBlock {
    public var c, h, w, p: UInt32
    public static let shaderSize = 16
}

public struct GridSample3dPush: PushConstantBlock {
    public var c, d, h, w, p: UInt32
    public static let shaderSize = 20
}

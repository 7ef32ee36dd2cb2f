public import AvatarVulkan

extension Operators {
    /// Conv1d, batch 1: x [Cin, L] → y [Cout, OL], weight [Cout, Cin/groups, K] (PyTorch layout).
    /// Depthwise is groups = Cin = Cout.
    public func conv1d(_ seq: CommandSequence, x: BufferSlice, weight: BufferSlice, bias: BufferSlice?, y: BufferSlice,
                       cin: Int, length: Int, cout: Int, kernel: Int, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
                       groups: Int = 1, type: Tensor.ElementType = .float32) throws {
        try check(groups > 0 && cin % groups == 0 && cout % groups == 0, "conv1d channels \(cin)→\(cout) not divisible by groups \(groups)")
        try check(kernel > 0 && stride > 0 && dilation > 0 && padding >= 0, "conv1d kernel/stride/dilation/padding")
        let ol = (length + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1
        try check(ol > 0, "conv1d output is empty")
        try check(Self.elements(x, type) >= cin * length, "conv1d input holds \(Self.elements(x, type)) < \(cin * length)")
        try check(weight.count >= cout * (cin / groups) * kernel, "conv1d weight too small")
        try check(Self.elements(y, type) >= cout * ol, "conv1d output holds \(Self.elements(y, type)) < \(cout * ol)")
        if let bias { try check(bias.count >= cout, "conv1d bias too small") }
        let pipeline = try library.pipeline(Self.conv1dVariant(type: type))
        let push = Conv1dPush(cin: Self.u(cin), l: Self.u(length), cout: Self.u(cout), ol: Self.u(ol), k: Self.u(kernel),
                              stride: Self.u(stride), pad: Self.u(padding), dilation: Self.u(dilation), groups: Self.u(groups),
                              hasBias: bias == nil ? 0 : 1)
        try seq.dispatch(pipeline, buffers: [x, weight, bias ?? weight, y], push: push, groups: Self.groups(cout * ol, local: 64))
    }

    /// Output size of a conv2d along one axis.
    public static func convOutput(_ size: Int, kernel: Int, stride: Int, padding: Int) -> Int {
        (size + 2 * padding - kernel) / stride + 1
    }

    /// Conv2d, NCHW batch 1, PyTorch weight layout [Cout, Cin/groups, KH, KW]. `weightType` .float16 reads
    /// fp16 weights (fp32 arithmetic) through the implicit-GEMM kernel (groups 1, ≥ 8 output channels). `type`
    /// .float16: fp16 activations x and y with fp32 weights.
    public func conv2d(_ seq: CommandSequence, x: BufferSlice, weight: BufferSlice, bias: BufferSlice?, y: BufferSlice,
                       cin: Int, h: Int, w: Int, cout: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                       padding: (Int, Int) = (0, 0), groups: Int = 1, weightType: Tensor.ElementType = .float32,
                       type: Tensor.ElementType = .float32) throws {
        try check(groups > 0 && cin % groups == 0 && cout % groups == 0, "conv2d channels \(cin)→\(cout) not divisible by groups \(groups)")
        try check(kernel.0 > 0 && kernel.1 > 0 && stride.0 > 0 && stride.1 > 0 && padding.0 >= 0 && padding.1 >= 0,
                  "conv2d kernel/stride/padding")
        let oh = Self.convOutput(h, kernel: kernel.0, stride: stride.0, padding: padding.0)
        let ow = Self.convOutput(w, kernel: kernel.1, stride: stride.1, padding: padding.1)
        try check(oh > 0 && ow > 0, "conv2d output is empty")
        try check(Self.elements(x, type) >= cin * h * w, "conv2d input holds \(Self.elements(x, type)) < \(cin * h * w)")
        try check(weight.byteCount >= cout * (cin / groups) * kernel.0 * kernel.1 * weightType.byteSize, "conv2d weight too small")
        try check(Self.elements(y, type) >= cout * oh * ow, "conv2d output holds \(Self.elements(y, type)) < \(cout * oh * ow)")
        if let bias { try check(bias.count >= cout, "conv2d bias too small") }
        let push = Conv2dPush(cin: Self.u(cin), h: Self.u(h), w: Self.u(w), cout: Self.u(cout), oh: Self.u(oh), ow: Self.u(ow),
                              kh: Self.u(kernel.0), kw: Self.u(kernel.1), strideY: Self.u(stride.0), strideX: Self.u(stride.1),
                              padY: Self.u(padding.0), padX: Self.u(padding.1), groups: Self.u(groups), hasBias: bias == nil ? 0 : 1)
        let buffers = [x, weight, bias ?? weight, y]
        let weightFormat = TexelFormat(weightType)
        try check(type == .float32 || weightType == .float32, "conv2d has no variant for fp16 activations with fp16 weights")
        let texel = x.texelViewable(alignment: device.texelAlignment, format: TexelFormat(type))
            && weight.texelViewable(alignment: device.texelAlignment, format: weightFormat)
        if weightType == .float16 {
            try check(groups == 1 && cout >= 8 && texel, "fp16 conv2d weights need groups 1, ≥ 8 output channels and texel-aligned slices")
        }
        if groups == 1 && cout >= 8 {
            // Implicit GEMM: weights [Cout, Cin·KH·KW] times the (never materialized) im2col matrix.
            let wx = Self.subgroupWidth(device)
            let t = Self.convTile
            let variant = type == .float16 ? (texel ? Shader.conv2dGemmTexelH : Shader.conv2dGemmH) : (texel ? Shader.conv2dGemmTexel : Shader.conv2dGemm)
            let pipeline = try library.pipeline(variant, specialization: [Self.u(wx), Self.u(t.wy)])
            let tileN = wx * t.tn, tileM = t.wy * t.tm
            let pixels = oh * ow
            try seq.dispatch(pipeline, buffers: buffers, push: push, groups: ((pixels + tileN - 1) / tileN, (cout + tileM - 1) / tileM, 1),
                             texelFormats: [0: TexelFormat(type), 1: weightFormat])
            return
        }
        let pipeline = try library.pipeline(type == .float16 ? Shader.conv2dH : Shader.conv2d)
        try seq.dispatch(pipeline, buffers: buffers, push: push, groups: Self.groups(cout * oh * ow, local: 64))
    }

    /// conv2d_gemm's tile: `tm` output channels × `tn` pixels per invocation, `wy` rows of invocations.
    static let convTile = (tm: 16, tn: 8, wy: 2)

    /// Conv3d, batch 1: x [Cin, D, H, W], weight [Cout, Cin/groups, KD, KH, KW]. `type` .float16: fp16 x and y
    /// (implicit GEMM only: groups 1, ≥ 4 output channels).
    public func conv3d(_ seq: CommandSequence, x: BufferSlice, weight: BufferSlice, bias: BufferSlice?, y: BufferSlice,
                       cin: Int, size: (d: Int, h: Int, w: Int), cout: Int, kernel: (Int, Int, Int),
                       stride: (Int, Int, Int) = (1, 1, 1), padding: (Int, Int, Int) = (0, 0, 0), groups: Int = 1,
                       type: Tensor.ElementType = .float32) throws {
        try check(groups > 0 && cin % groups == 0 && cout % groups == 0, "conv3d channels \(cin)→\(cout) not divisible by groups \(groups)")
        try check(kernel.0 > 0 && kernel.1 > 0 && kernel.2 > 0 && stride.0 > 0 && stride.1 > 0 && stride.2 > 0
                  && padding.0 >= 0 && padding.1 >= 0 && padding.2 >= 0, "conv3d kernel/stride/padding")
        let od = Self.convOutput(size.d, kernel: kernel.0, stride: stride.0, padding: padding.0)
        let oh = Self.convOutput(size.h, kernel: kernel.1, stride: stride.1, padding: padding.1)
        let ow = Self.convOutput(size.w, kernel: kernel.2, stride: stride.2, padding: padding.2)
        try check(od > 0 && oh > 0 && ow > 0, "conv3d output is empty")
        try check(Self.elements(x, type) >= cin * size.d * size.h * size.w, "conv3d input too small")
        try check(weight.count >= cout * (cin / groups) * kernel.0 * kernel.1 * kernel.2, "conv3d weight too small")
        try check(Self.elements(y, type) >= cout * od * oh * ow, "conv3d output holds \(Self.elements(y, type)) < \(cout * od * oh * ow)")
        try check(type == .float32 || (groups == 1 && cout >= 4), "fp16 conv3d needs groups 1 and ≥ 4 output channels")
        if let bias { try check(bias.count >= cout, "conv3d bias too small") }
        let push = Conv3dPush(cin: Self.u(cin), d: Self.u(size.d), h: Self.u(size.h), w: Self.u(size.w), cout: Self.u(cout),
                              od: Self.u(od), oh: Self.u(oh), ow: Self.u(ow), kd: Self.u(kernel.0), kh: Self.u(kernel.1),
                              kw: Self.u(kernel.2), strideD: Self.u(stride.0), strideH: Self.u(stride.1), strideW: Self.u(stride.2),
                              padD: Self.u(padding.0), padH: Self.u(padding.1), padW: Self.u(padding.2), groups: Self.u(groups),
                              hasBias: bias == nil ? 0 : 1)
        let buffers = [x, weight, bias ?? weight, y]
        if groups == 1 && cout >= 4 {
            // Implicit GEMM (conv3d_gemm.comp): 16 output channels × 8 voxels per invocation, two rows of invocations;
            // narrow outputs (the torso's mask conv, 5 channels) take 8 channels and one row (1.4× faster there).
            let texel = x.texelViewable(alignment: device.texelAlignment, format: TexelFormat(type))
                && weight.texelViewable(alignment: device.texelAlignment)
            let narrow = cout < 16
            let variant = type == .float16
                ? (narrow ? (texel ? Shader.conv3dGemmM8TexelH : Shader.conv3dGemmM8H) : (texel ? Shader.conv3dGemmTexelH : Shader.conv3dGemmH))
                : (narrow ? (texel ? Shader.conv3dGemmM8Texel : Shader.conv3dGemmM8) : (texel ? Shader.conv3dGemmTexel : Shader.conv3dGemm))
            let wx = Self.subgroupWidth(device), t = Self.convTile
            let (wy, tm) = narrow ? (1, 8) : (t.wy, t.tm)
            let pipeline = try library.pipeline(variant, specialization: [Self.u(wx), Self.u(wy)])
            let tileN = wx * t.tn, tileM = wy * tm
            let voxels = od * oh * ow
            try seq.dispatch(pipeline, buffers: buffers, push: push, groups: ((voxels + tileN - 1) / tileN, (cout + tileM - 1) / tileM, 1),
                             texelFormats: [0: TexelFormat(type)])
            return
        }
        let pipeline = try library.pipeline(Shader.conv3d)
        try seq.dispatch(pipeline, buffers: buffers, push: push, groups: Self.groups(cout * od * oh * ow, local: 64))
    }

    /// conv_transpose2d, batch 1: x [Cin, H, W], weight [Cin, Cout/groups, KH, KW] (PyTorch layout);
    /// OH = (H − 1)·stride − 2·padding + KH + outputPadding.
    public func convTranspose2d(_ seq: CommandSequence, x: BufferSlice, weight: BufferSlice, bias: BufferSlice?, y: BufferSlice,
                                cin: Int, h: Int, w: Int, cout: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                                padding: (Int, Int) = (0, 0), outputPadding: (Int, Int) = (0, 0), groups: Int = 1) throws {
        try check(groups > 0 && cin % groups == 0 && cout % groups == 0, "conv_transpose2d channels not divisible by groups")
        try check(kernel.0 > 0 && kernel.1 > 0 && stride.0 > 0 && stride.1 > 0 && padding.0 >= 0 && padding.1 >= 0
                  && outputPadding.0 >= 0 && outputPadding.1 >= 0 && outputPadding.0 < stride.0 && outputPadding.1 < stride.1,
                  "conv_transpose2d kernel/stride/padding")
        let oh = (h - 1) * stride.0 - 2 * padding.0 + kernel.0 + outputPadding.0
        let ow = (w - 1) * stride.1 - 2 * padding.1 + kernel.1 + outputPadding.1
        try check(oh > 0 && ow > 0, "conv_transpose2d output is empty")
        try check(x.count >= cin * h * w, "conv_transpose2d input too small")
        try check(weight.count >= cin * (cout / groups) * kernel.0 * kernel.1, "conv_transpose2d weight too small")
        try check(y.count >= cout * oh * ow, "conv_transpose2d output holds \(y.count) < \(cout * oh * ow)")
        if let bias { try check(bias.count >= cout, "conv_transpose2d bias too small") }
        let pipeline = try library.pipeline(Shader.convTranspose2d)
        let push = ConvTranspose2dPush(cin: Self.u(cin), h: Self.u(h), w: Self.u(w), cout: Self.u(cout), oh: Self.u(oh), ow: Self.u(ow),
                                       kh: Self.u(kernel.0), kw: Self.u(kernel.1), strideY: Self.u(stride.0), strideX: Self.u(stride.1),
                                       padY: Self.u(padding.0), padX: Self.u(padding.1), groups: Self.u(groups),
                                       hasBias: bias == nil ? 0 : 1)
        try seq.dispatch(pipeline, buffers: [x, weight, bias ?? weight, y], push: push, groups: Self.groups(cout * oh * ow, local: 64))
    }
}

// Push constants of these operators, field by field as their shaders declare them (std430, 4-byte scalars).

public struct Conv1dPush: PushConstantBlock {
    public var cin, l, cout, ol, k, stride, pad, dilation, groups, hasBias: UInt32
    public static let shaderSize = 40
}

public struct Conv2dPush: PushConstantBlock {
    public var cin, h, w, cout, oh, ow, kh, kw: UInt32
    public var strideY, strideX, padY, padX, groups, hasBias: UInt32
    public static let shaderSize = 56
}

public struct Conv3dPush: PushConstantBlock {
    public var cin, d, h, w, cout, od, oh, ow: UInt32
    public var kd, kh, kw, strideD, strideH, strideW, padD, padH, padW, groups, hasBias: UInt32
    public static let shaderSize = 76
}

/// conv_transpose2d uses the conv2d field list (output padding only changes OH/OW).
public typealias ConvTranspose2dPush = Conv2dPush

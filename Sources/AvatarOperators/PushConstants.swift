/// Push-constant structs, field by field as declared in the shaders (std430 push_constant layout: 4-byte
/// scalars, no padding). `OperatorTests` checks every size against the shader's declaration.
public struct MatmulPush: Sendable {
    public var m, n, k: UInt32
    public var strideA, strideB, strideC: UInt32
    public var hasBias: UInt32
    public var alpha: Float
    public static let shaderSize = 32
}

public struct UnaryPush: Sendable {
    public var n: UInt32
    public var alpha: Float
    public var beta: Float
    public static let shaderSize = 12
}

public struct BinaryPush: Sendable {
    public var n, nb, inner: UInt32
    public static let shaderSize = 12
}

public struct NormPush: Sendable {
    public var rows, d: UInt32
    public var eps, scale: Float
    public var hasBeta: UInt32
    public static let shaderSize = 20
}

public struct SoftmaxPush: Sendable {
    public var rows, d: UInt32
    public var scale: Float
    public var hasMask, maskRows: UInt32
    public static let shaderSize = 20
}

public struct GegluPush: Sendable {
    public var rows, d: UInt32
    public static let shaderSize = 8
}

public struct Conv2dPush: Sendable {
    public var cin, h, w, cout, oh, ow, kh, kw: UInt32
    public var strideY, strideX, padY, padX, groups, hasBias: UInt32
    public static let shaderSize = 56
}

public struct GridSamplePush: Sendable {
    public var c, h, w, p: UInt32
    public static let shaderSize = 16
}

public struct ScaleShiftPush: Sendable {
    public var n, c, inner: UInt32
    public static let shaderSize = 12
}

public struct RotaryPush: Sendable {
    public var rows, d, l: UInt32
    public static let shaderSize = 12
}

public struct Conv1dPush: Sendable {
    public var cin, l, cout, ol, k, stride, pad, dilation, groups, hasBias: UInt32
    public static let shaderSize = 40
}

public struct Conv3dPush: Sendable {
    public var cin, d, h, w, cout, od, oh, ow: UInt32
    public var kd, kh, kw, strideD, strideH, strideW, padD, padH, padW, groups, hasBias: UInt32
    public static let shaderSize = 76
}

/// conv_transpose2d uses the conv2d field list (output padding only changes OH/OW).
public typealias ConvTranspose2dPush = Conv2dPush

public struct ResizePush: Sendable {
    public var c, h, w, oh, ow: UInt32
    public static let shaderSize = 20
}

public struct Pool2dPush: Sendable {
    public var c, h, w, oh, ow, kh, kw, strideY, strideX, padY, padX: UInt32
    public static let shaderSize = 44
}

public struct Upfirdn2dPush: Sendable {
    public var c, h, w, oh, ow, kh, kw: UInt32
    public var upY, upX, downY, downX: UInt32
    public var padY0, padX0: Int32
    public static let shaderSize = 52
}

public struct GridSample3dPush: Sendable {
    public var c, d, h, w, p: UInt32
    public static let shaderSize = 20
}

public struct CopyPush: Sendable {
    public var s0, s1, s2, s3: UInt32
    public var a0, a1, a2, a3: UInt32
    public var b0, b1, b2, b3: UInt32
    public var srcOffset, dstOffset: UInt32
    public static let shaderSize = 56
}

public struct ScanPush: Sendable {
    public var rows, d, exclusive: UInt32
    public static let shaderSize = 12
}

public struct SortRowsPush: Sendable {
    public var rows, d, descending: UInt32
    public static let shaderSize = 12
}

public struct SearchSortedPush: Sendable {
    public var rows, ns, nq: UInt32
    public static let shaderSize = 12
}

public struct AttentionPush: Sendable {
    public var h, lq, lk: UInt32
    public var scale: Float
    public var hasMask, maskRows: UInt32
    public static let shaderSize = 24
}

public struct QKNormRotaryPush: Sendable {
    public var rows, d, heads, l, rowStride, offset: UInt32
    public var eps, scale: Float
    public static let shaderSize = 32
}

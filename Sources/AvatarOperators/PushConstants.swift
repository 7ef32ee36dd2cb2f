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

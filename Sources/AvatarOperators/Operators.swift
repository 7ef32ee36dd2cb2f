public import AvatarVulkan

/// Records operators into a command sequence. Tensors are fp32 buffer slices in row-major (NCHW) order;
/// shapes are passed explicitly. Each method checks sizes and throws `OperatorError.shape` on misuse.
public struct Operators: Sendable {
    public let library: ShaderLibrary

    public init(library: ShaderLibrary) { self.library = library }

    /// Workgroup counts for `n` invocations of `local` threads, folded into y past the 65535 x limit.
    static func groups(_ n: Int, local: Int) -> (x: Int, y: Int, z: Int) {
        let g = max(1, (n + local - 1) / local)
        return g <= 65535 ? (g, 1, 1) : (65535, (g + 65534) / 65535, 1)
    }

    private func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw OperatorError.shape(message()) }
    }

    public enum Activation: String, Sendable, CaseIterable {
        case gelu, silu, relu, leakyRelu = "leaky_relu", softplus, sigmoid, tanh
    }

    /// C[b] = alpha·A[b]·B[b] (+ bias); B is [K, N], or [N, K] with `transposeB` (Linear weights).
    public func matmul(_ seq: CommandSequence, a: BufferSlice, b: BufferSlice, bias: BufferSlice? = nil, c: BufferSlice,
                       m: Int, n: Int, k: Int, batch: Int = 1, transposeB: Bool = false, alpha: Float = 1,
                       batchStrideB: Int? = nil) throws {
        try check(a.count >= batch * m * k, "matmul A holds \(a.count) < \(batch)×\(m)×\(k)")
        let strideB = batchStrideB ?? k * n
        try check(b.count >= (batch - 1) * strideB + k * n, "matmul B holds \(b.count) elements, too few")
        try check(c.count >= batch * m * n, "matmul C holds \(c.count) < \(batch)×\(m)×\(n)")
        if let bias { try check(bias.count >= n, "matmul bias holds \(bias.count) < \(n)") }
        let pipeline = try library.pipeline(transposeB ? "matmul_bt" : "matmul", bindings: 4, pushConstantSize: MatmulPush.shaderSize)
        let push = MatmulPush(m: UInt32(m), n: UInt32(n), k: UInt32(k), strideA: UInt32(m * k), strideB: UInt32(strideB),
                              strideC: UInt32(m * n), hasBias: bias == nil ? 0 : 1, alpha: alpha)
        try seq.dispatch(pipeline, buffers: [a, b, bias ?? c, c], push: push,
                         groups: ((n + 63) / 64, (m + 63) / 64, batch))
    }

    public func activation(_ seq: CommandSequence, _ kind: Activation, x: BufferSlice, y: BufferSlice, count: Int,
                           alpha: Float = 0.01, gain: Float = 1) throws {
        try check(x.count >= count && y.count >= count, "activation over \(count) elements on smaller buffers")
        let pipeline = try library.pipeline("unary_\(kind.rawValue)", bindings: 2, pushConstantSize: UnaryPush.shaderSize)
        try seq.dispatch(pipeline, buffers: [x, y], push: UnaryPush(n: UInt32(count), alpha: alpha, beta: gain),
                         groups: Self.groups(count, local: 256))
    }

    public enum BinaryOp: String, Sendable { case add, mul }

    /// y = a ∘ b, with b (length nb) broadcast: index (i / inner) mod nb.
    public func binary(_ seq: CommandSequence, _ op: BinaryOp, a: BufferSlice, b: BufferSlice, y: BufferSlice,
                       count: Int, broadcast nb: Int? = nil, inner: Int = 1) throws {
        let nb = nb ?? count
        try check(a.count >= count && y.count >= count && b.count >= nb, "binary op sizes")
        let pipeline = try library.pipeline("binary_\(op.rawValue)", bindings: 3, pushConstantSize: BinaryPush.shaderSize)
        try seq.dispatch(pipeline, buffers: [a, b, y], push: BinaryPush(n: UInt32(count), nb: UInt32(nb), inner: UInt32(inner)),
                         groups: Self.groups(count, local: 256))
    }

    /// LayerNorm over the last dimension (eps 1e-5 or 1e-6 in MimicTalk's modules).
    public func layerNorm(_ seq: CommandSequence, x: BufferSlice, gamma: BufferSlice, beta: BufferSlice?, y: BufferSlice,
                          rows: Int, d: Int, eps: Float) throws {
        try norm("layer_norm", seq, x: x, gamma: gamma, beta: beta, y: y, rows: rows, d: d, eps: eps, scale: 1)
    }

    /// F.normalize(x)·scale·γ (+β): the RMS norm of the A2M transformer (eps 1e-12; scale √D).
    public func l2Norm(_ seq: CommandSequence, x: BufferSlice, gamma: BufferSlice, beta: BufferSlice? = nil, y: BufferSlice,
                       rows: Int, d: Int, scale: Float, eps: Float = 1e-12) throws {
        try norm("l2_norm", seq, x: x, gamma: gamma, beta: beta, y: y, rows: rows, d: d, eps: eps, scale: scale)
    }

    private func norm(_ name: String, _ seq: CommandSequence, x: BufferSlice, gamma: BufferSlice, beta: BufferSlice?, y: BufferSlice,
                      rows: Int, d: Int, eps: Float, scale: Float) throws {
        try check(x.count >= rows * d && y.count >= rows * d && gamma.count >= d, "\(name) sizes")
        let pipeline = try library.pipeline(name, bindings: 4, pushConstantSize: NormPush.shaderSize)
        try seq.dispatch(pipeline, buffers: [x, gamma, beta ?? gamma, y],
                         push: NormPush(rows: UInt32(rows), d: UInt32(d), eps: eps, scale: scale, hasBeta: beta == nil ? 0 : 1),
                         groups: Self.groups(rows, local: 1))
    }

    /// Row softmax of scale·x + mask (mask rows repeat every `maskRows` rows).
    public func softmax(_ seq: CommandSequence, x: BufferSlice, y: BufferSlice, rows: Int, d: Int, scale: Float = 1,
                        mask: BufferSlice? = nil, maskRows: Int = 1) throws {
        try check(x.count >= rows * d && y.count >= rows * d, "softmax sizes")
        let pipeline = try library.pipeline("softmax", bindings: 3, pushConstantSize: SoftmaxPush.shaderSize)
        try seq.dispatch(pipeline, buffers: [x, mask ?? x, y],
                         push: SoftmaxPush(rows: UInt32(rows), d: UInt32(d), scale: scale, hasMask: mask == nil ? 0 : 1,
                                           maskRows: UInt32(maskRows)),
                         groups: Self.groups(rows, local: 1))
    }

    /// GEGLU: [rows, 2d] → [rows, d].
    public func geglu(_ seq: CommandSequence, x: BufferSlice, y: BufferSlice, rows: Int, d: Int) throws {
        try check(x.count >= rows * 2 * d && y.count >= rows * d, "geglu sizes")
        let pipeline = try library.pipeline("geglu", bindings: 2, pushConstantSize: GegluPush.shaderSize)
        try seq.dispatch(pipeline, buffers: [x, y], push: GegluPush(rows: UInt32(rows), d: UInt32(d)),
                         groups: Self.groups(rows * d, local: 256))
    }

    /// Conv2d, NCHW batch 1, PyTorch weight layout [Cout, Cin/groups, KH, KW].
    public func conv2d(_ seq: CommandSequence, x: BufferSlice, weight: BufferSlice, bias: BufferSlice?, y: BufferSlice,
                       cin: Int, h: Int, w: Int, cout: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                       padding: (Int, Int) = (0, 0), groups: Int = 1) throws {
        try check(cin % groups == 0 && cout % groups == 0, "conv2d channels \(cin)→\(cout) not divisible by groups \(groups)")
        let oh = (h + 2 * padding.0 - kernel.0) / stride.0 + 1
        let ow = (w + 2 * padding.1 - kernel.1) / stride.1 + 1
        try check(oh > 0 && ow > 0, "conv2d output is empty")
        try check(x.count >= cin * h * w, "conv2d input holds \(x.count) < \(cin * h * w)")
        try check(weight.count >= cout * (cin / groups) * kernel.0 * kernel.1, "conv2d weight too small")
        try check(y.count >= cout * oh * ow, "conv2d output holds \(y.count) < \(cout * oh * ow)")
        let pipeline = try library.pipeline("conv2d", bindings: 4, pushConstantSize: Conv2dPush.shaderSize)
        let push = Conv2dPush(cin: UInt32(cin), h: UInt32(h), w: UInt32(w), cout: UInt32(cout), oh: UInt32(oh), ow: UInt32(ow),
                              kh: UInt32(kernel.0), kw: UInt32(kernel.1), strideY: UInt32(stride.0), strideX: UInt32(stride.1),
                              padY: UInt32(padding.0), padX: UInt32(padding.1), groups: UInt32(groups), hasBias: bias == nil ? 0 : 1)
        try seq.dispatch(pipeline, buffers: [x, weight, bias ?? weight, y], push: push, groups: Self.groups(cout * oh * ow, local: 64))
    }

    /// grid_sample 2-D bilinear: input [C, H, W], grid [P, 2] (x, y in [−1, 1]) → [C, P].
    public func gridSample2D(_ seq: CommandSequence, x: BufferSlice, grid: BufferSlice, y: BufferSlice,
                             c: Int, h: Int, w: Int, points: Int, border: Bool, alignCorners: Bool) throws {
        try check(x.count >= c * h * w && grid.count >= points * 2 && y.count >= c * points, "grid_sample sizes")
        let name = "grid_sample2d_\(border ? "border" : "zeros")\(alignCorners ? "_align" : "")"
        let pipeline = try library.pipeline(name, bindings: 3, pushConstantSize: GridSamplePush.shaderSize)
        try seq.dispatch(pipeline, buffers: [x, grid, y], push: GridSamplePush(c: UInt32(c), h: UInt32(h), w: UInt32(w), p: UInt32(points)),
                         groups: Self.groups(points, local: 64))
    }
}

public import AvatarVulkan

/// Records operators into a command sequence. Tensors are buffer slices in row-major (NCHW) order, fp32 unless
/// an element type is passed (fp16 weights; fp16 activations for the operators in `Operators+ElementTypes.swift`),
/// batch 1 unless a batch is named; shapes are passed explicitly. Each method checks sizes and throws
/// `OperatorError.shape` on misuse. Families live in `Operators+*.swift`.
public struct Operators: Sendable {
    public let library: ShaderLibrary

    public init(library: ShaderLibrary) { self.library = library }

    public var device: VulkanDevice { library.device }

    /// Workgroup counts for `n` invocations of `local` threads, folded into y past the 65535 x limit.
    static func groups(_ n: Int, local: Int) -> (x: Int, y: Int, z: Int) {
        let g = max(1, (n + local - 1) / local)
        return g <= 65535 ? (g, 1, 1) : (65535, (g + 65534) / 65535, 1)
    }

    func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw OperatorError.shape(message()) }
    }

    static func u(_ v: Int) -> UInt32 { UInt32(truncatingIfNeeded: v) }

    // MARK: Matmul

    /// The vec4 matmul's tile: each invocation holds `tm`×`tn` outputs; `wy` rows of invocations of the
    /// subgroup width.
    static let vec4Tile = (tm: 16, tn: 8, wy: 2)

    /// Rows per invocation for an M-row product. 16 rows amortize the B loads best, but
    /// a tile of 32 rows wastes up to 31 clamped rows: transformer windows (M ≈ 70) lost 40 % to padding and
    /// a row-vector product (M = 1, the face's vertex update) computed every output 16 times.
    static func vec4Rows(m: Int) -> (tm: Int, wy: Int) {
        if m <= 2 { return (1, m) }
        if m < 256 { return (8, 2) }
        return (vec4Tile.tm, vec4Tile.wy)
    }

    /// C[b] = alpha·A[b]·B[b] (+ bias); A is [M, K]; B is [K, N], or [N, K] with `transposeB` (Linear
    /// weights). `bType` .float16 reads B as fp16 with fp32 accumulation (aligned shapes through an RGBA16F
    /// texel view; unaligned ones need 16-bit storage buffers).
    /// Aligned shapes (K, and N for B as [K, N], multiples of 4; texel-aligned offsets) take the vec4 kernel,
    /// which reads A and B through texel buffers. `aType`/`cType` .float16 are fp16 activations (fp32 accumulation;
    /// see `matmulScalarVariant` for the combinations).
    public func matmul(_ seq: CommandSequence, a: BufferSlice, b: BufferSlice, bias: BufferSlice? = nil, c: BufferSlice,
                       m: Int, n: Int, k: Int, batch: Int = 1, transposeB: Bool = false, alpha: Float = 1,
                       batchStrideB: Int? = nil, aType: Tensor.ElementType = .float32, bType: Tensor.ElementType = .float32,
                       cType: Tensor.ElementType = .float32) throws {
        try check(m > 0 && n > 0 && k > 0 && batch > 0, "matmul with an empty dimension \(m)×\(n)×\(k)×\(batch)")
        try check(Self.elements(a, aType) >= batch * m * k, "matmul A holds \(Self.elements(a, aType)) < \(batch)×\(m)×\(k)")
        let strideB = batchStrideB ?? k * n
        try check(b.byteCount >= ((batch - 1) * strideB + k * n) * bType.byteSize, "matmul B holds \(b.byteCount) bytes, too few")
        try check(Self.elements(c, cType) >= batch * m * n, "matmul C holds \(Self.elements(c, cType)) < \(batch)×\(m)×\(n)")
        if let bias { try check(bias.count >= n, "matmul bias holds \(bias.count) < \(n)") }
        let push = MatmulPush(m: Self.u(m), n: Self.u(n), k: Self.u(k), strideA: Self.u(m * k), strideB: Self.u(strideB),
                              strideC: Self.u(m * n), hasBias: bias == nil ? 0 : 1, alpha: alpha)
        let buffers = [a, b, bias ?? c, c]
        let texel = device.texelAlignment
        let aligned = k % 4 == 0 && (transposeB || n % 4 == 0) && strideB % 4 == 0 && a.offset % texel == 0 && b.offset % texel == 0
        if aligned {
            // fp16 B goes through an RGBA16F view of the same kernel (the fetch converts to fp32).
            let wx = Self.subgroupWidth(device)
            let rows = Self.vec4Rows(m: m)
            let variant = Self.matmulVec4Variant(transposeB: transposeB, rows: rows.tm, c: cType)
            let pipeline = try library.pipeline(variant, specialization: [Self.u(wx), Self.u(rows.wy)])
            let tileN = wx * Self.vec4Tile.tn, tileM = rows.wy * rows.tm
            try seq.dispatch(pipeline, buffers: buffers, push: push, groups: ((n + tileN - 1) / tileN, (m + tileM - 1) / tileM, batch),
                             texelFormats: [0: TexelFormat(aType), 1: TexelFormat(bType)])
            return
        }
        if [aType, bType, cType].contains(.float16) {
            try check(device.info.storageBuffer16BitAccess, "unaligned fp16 operands on a device without 16-bit storage buffers")
        }
        let pipeline = try library.pipeline(try Self.matmulScalarVariant(transposeB: transposeB, a: aType, b: bType, c: cType))
        try seq.dispatch(pipeline, buffers: buffers, push: push, groups: ((n + 63) / 64, (m + 63) / 64, batch))
    }

    /// The invocation width used for register-blocked kernels: the device's subgroup size, within 4…64.
    static func subgroupWidth(_ device: VulkanDevice) -> Int { min(64, max(4, Int(device.info.subgroupSize))) }

    /// Linear layer: y[rows, out] = x[rows, in]·Wᵀ (+ bias), W as PyTorch stores it ([out, in], fp32 or fp16).
    public func linear(_ seq: CommandSequence, x: BufferSlice, weight: Tensor, bias: BufferSlice? = nil, y: BufferSlice,
                       rows: Int, type: Tensor.ElementType = .float32) throws {
        try check(weight.rank == 2, "linear weight must be [out, in], got \(weight.shape)")
        try matmul(seq, a: x, b: weight.storage, bias: bias, c: y, m: rows, n: weight.shape[0], k: weight.shape[1],
                   transposeB: true, aType: type, bType: weight.elementType, cType: type)
    }

    // MARK: Elementwise

    public enum Activation: String, Sendable, CaseIterable {
        case gelu, silu, relu, leakyRelu = "leaky_relu", softplus, sigmoid, tanh
    }

    /// y = act(x); LeakyReLU uses `alpha` as the negative slope and `gain` as output gain (lrelu·√2).
    public func activation(_ seq: CommandSequence, _ kind: Activation, x: BufferSlice, y: BufferSlice, count: Int,
                           alpha: Float = 0.01, gain: Float = 1, type: Tensor.ElementType = .float32) throws {
        try check(Self.elements(x, type) >= count && Self.elements(y, type) >= count, "activation over \(count) elements on smaller buffers")
        let pipeline = try library.pipeline(try Self.activationVariant(kind, type: type))
        try seq.dispatch(pipeline, buffers: [x, y], push: UnaryPush(n: Self.u(count), alpha: alpha, beta: gain),
                         groups: Self.groups(count, local: 256))
    }

    public enum BinaryOp: String, Sendable { case add, mul }

    /// y = a ∘ b, with b (length nb) broadcast: index (i / inner) mod nb.
    public func binary(_ seq: CommandSequence, _ op: BinaryOp, a: BufferSlice, b: BufferSlice, y: BufferSlice,
                       count: Int, broadcast nb: Int? = nil, inner: Int = 1, type: Tensor.ElementType = .float32,
                       bType: Tensor.ElementType? = nil) throws {
        let nb = nb ?? count
        let bType = bType ?? type
        try check(nb > 0 && inner > 0, "binary op broadcast \(nb) inner \(inner)")
        try check(Self.elements(a, type) >= count && Self.elements(y, type) >= count && Self.elements(b, bType) >= nb, "binary op sizes")
        let pipeline = try library.pipeline(try Self.binaryVariant(op, a: type, b: bType))
        try seq.dispatch(pipeline, buffers: [a, b, y], push: BinaryPush(n: Self.u(count), nb: Self.u(nb), inner: Self.u(inner)),
                         groups: Self.groups(count, local: 256))
    }

    /// y = x·scale[c] + shift[c] over x [.., C, inner] (eval BatchNorm folded to scale/shift:
    /// scale = γ/√(var + eps), shift = β − mean·scale).
    public func scaleShift(_ seq: CommandSequence, x: BufferSlice, scale: BufferSlice, shift: BufferSlice, y: BufferSlice,
                           count: Int, channels: Int, inner: Int, type: Tensor.ElementType = .float32) throws {
        try check(channels > 0 && inner > 0, "scaleShift channels \(channels) inner \(inner)")
        try check(Self.elements(x, type) >= count && Self.elements(y, type) >= count && scale.count >= channels && shift.count >= channels,
                  "scaleShift sizes")
        let pipeline = try library.pipeline(Self.scaleShiftVariant(type: type))
        try seq.dispatch(pipeline, buffers: [x, scale, shift, y],
                         push: ScaleShiftPush(n: Self.u(count), c: Self.u(channels), inner: Self.u(inner)),
                         groups: Self.groups(count, local: 256))
    }

    // MARK: Normalization

    /// LayerNorm over the last dimension (eps 1e-5 or 1e-6 in MimicTalk's modules).
    public func layerNorm(_ seq: CommandSequence, x: BufferSlice, gamma: BufferSlice, beta: BufferSlice?, y: BufferSlice,
                          rows: Int, d: Int, eps: Float, type: Tensor.ElementType = .float32) throws {
        try norm(Self.layerNormVariant(type: type), seq, x: x, gamma: gamma, beta: beta, y: y, rows: rows, d: d, eps: eps, scale: 1, type: type)
    }

    /// F.normalize(x)·scale·γ (+β): the RMS norm of the A2M transformer (eps 1e-12; scale √D).
    public func l2Norm(_ seq: CommandSequence, x: BufferSlice, gamma: BufferSlice, beta: BufferSlice? = nil, y: BufferSlice,
                       rows: Int, d: Int, scale: Float, eps: Float = 1e-12) throws {
        try norm(Shader.l2Norm, seq, x: x, gamma: gamma, beta: beta, y: y, rows: rows, d: d, eps: eps, scale: scale)
    }

    /// x/√(mean(x²) + eps)·γ (+β) (torch.nn.RMSNorm).
    public func rmsNorm(_ seq: CommandSequence, x: BufferSlice, gamma: BufferSlice, beta: BufferSlice? = nil, y: BufferSlice,
                        rows: Int, d: Int, eps: Float) throws {
        try norm(Shader.rmsNorm, seq, x: x, gamma: gamma, beta: beta, y: y, rows: rows, d: d, eps: eps, scale: 1)
    }

    private func norm(_ variant: ShaderVariant<NormPush>, _ seq: CommandSequence, x: BufferSlice, gamma: BufferSlice, beta: BufferSlice?, y: BufferSlice,
                      rows: Int, d: Int, eps: Float, scale: Float, type: Tensor.ElementType = .float32) throws {
        let name = variant.name
        try check(rows > 0 && d > 0, "\(name) over \(rows)×\(d)")
        try check(Self.elements(x, type) >= rows * d && Self.elements(y, type) >= rows * d && gamma.count >= d, "\(name) sizes")
        if let beta { try check(beta.count >= d, "\(name) beta holds \(beta.count) < \(d)") }
        let pipeline = try library.pipeline(variant)
        try seq.dispatch(pipeline, buffers: [x, gamma, beta ?? gamma, y],
                         push: NormPush(rows: Self.u(rows), d: Self.u(d), eps: eps, scale: scale, hasBeta: beta == nil ? 0 : 1),
                         groups: Self.groups(rows, local: 1))
    }

    // MARK: Attention building blocks

    /// Row softmax of scale·x + mask (mask [maskRows, d]; row r uses mask row r mod maskRows; −inf masks).
    public func softmax(_ seq: CommandSequence, x: BufferSlice, y: BufferSlice, rows: Int, d: Int, scale: Float = 1,
                        mask: BufferSlice? = nil, maskRows: Int = 1, type: Tensor.ElementType = .float32) throws {
        try check(rows > 0 && d > 0 && maskRows > 0, "softmax over \(rows)×\(d)")
        try check(Self.elements(x, type) >= rows * d && Self.elements(y, type) >= rows * d, "softmax sizes")
        if let mask { try check(mask.count >= maskRows * d, "softmax mask holds \(mask.count) < \(maskRows)×\(d)") }
        // Many rows: one invocation per row (no barriers); few wide rows: one workgroup per row.
        let perInvocation = rows >= 256
        let pipeline = try library.pipeline(Self.softmaxVariant(rowPerInvocation: perInvocation, type: type))
        try seq.dispatch(pipeline, buffers: [x, mask ?? x, y],
                         push: SoftmaxPush(rows: Self.u(rows), d: Self.u(d), scale: scale, hasMask: mask == nil ? 0 : 1,
                                           maskRows: Self.u(maskRows)),
                         groups: Self.groups(rows, local: perInvocation ? 64 : 1))
    }

    /// GEGLU: [rows, 2d] → [rows, d], value = first half, gate = second half: value·gelu(gate).
    public func geglu(_ seq: CommandSequence, x: BufferSlice, y: BufferSlice, rows: Int, d: Int, type: Tensor.ElementType = .float32) throws {
        try check(Self.elements(x, type) >= rows * 2 * d && Self.elements(y, type) >= rows * d, "geglu sizes")
        let pipeline = try library.pipeline(Self.gegluVariant(type: type))
        try seq.dispatch(pipeline, buffers: [x, y], push: GegluPush(rows: Self.u(rows), d: Self.u(d)),
                         groups: Self.groups(rows * d, local: 256))
    }

    /// Rotary embedding (rotate-half) on x [rows, d]; row r uses position row (r mod positions) of the
    /// host-computed tables cos, sin [positions, d/2] (see `RotaryTables`).
    public func rotary(_ seq: CommandSequence, x: BufferSlice, cos: BufferSlice, sin: BufferSlice, y: BufferSlice,
                       rows: Int, d: Int, positions: Int) throws {
        try check(d % 2 == 0 && d > 0 && positions > 0, "rotary needs an even head dimension, got \(d)")
        try check(x.count >= rows * d && y.count >= rows * d, "rotary sizes")
        try check(cos.count >= positions * d / 2 && sin.count >= positions * d / 2, "rotary tables hold fewer than \(positions)×\(d / 2)")
        let pipeline = try library.pipeline(Shader.rotary)
        try seq.dispatch(pipeline, buffers: [x, cos, sin, y], push: RotaryPush(rows: Self.u(rows), d: Self.u(d), l: Self.u(positions)),
                         groups: Self.groups(rows * d / 2, local: 64))
    }

    /// Scaled-dot-product attention over heads: q [H, Lq, D], k and v [H, Lk, D] → out [H, Lq, D];
    /// softmax(scale·q·kᵀ + mask)·v with `scale` the logit scale (1/√D, or 10 for the A2M transformer)
    /// and an additive mask [maskRows, Lk] (e.g. −inf on padded keys; maskRows 1 = same for every query).
    /// `fused` (default: when no `scores` scratch is given) runs one kernel with an online softmax and no score
    /// matrix (needs D a multiple of 4, ≤ 256, and texel-viewable q/k/v); otherwise it is composed
    /// (QKᵀ → softmax → ·V) in `scores`, scratch of H·Lq·Lk floats. On lavapipe the composed form is ~1.3×
    /// faster at 768 tokens; the fused one needs no scratch.
    public func attention(_ seq: CommandSequence, q: BufferSlice, k: BufferSlice, v: BufferSlice, out: BufferSlice,
                          scores: BufferSlice? = nil, heads: Int, queries lq: Int, keys lk: Int, headDim d: Int, scale: Float,
                          mask: BufferSlice? = nil, maskRows: Int = 1, fused: Bool? = nil, type: Tensor.ElementType = .float32) throws {
        try check(heads > 0 && lq > 0 && lk > 0 && d > 0 && maskRows > 0, "attention over an empty shape")
        let e = { (s: BufferSlice) in Self.elements(s, type) }
        try check(e(q) >= heads * lq * d && e(k) >= heads * lk * d && e(v) >= heads * lk * d && e(out) >= heads * lq * d,
                  "attention q/k/v/out sizes")
        if let mask { try check(mask.count >= maskRows * lk, "attention mask holds \(mask.count) < \(maskRows)×\(lk)") }
        let align = device.texelAlignment
        if fused ?? (scores == nil), d % 4 == 0, d <= 256, out.offset % 16 == 0,
           [q, k, v].allSatisfy({ $0.texelViewable(alignment: align, format: TexelFormat(type)) }) {
            let pipeline = try library.pipeline(Self.attentionVariant(type: type), specialization: [Self.u(d / 4)])
            let push = AttentionPush(h: Self.u(heads), lq: Self.u(lq), lk: Self.u(lk), scale: scale, hasMask: mask == nil ? 0 : 1,
                                     maskRows: Self.u(maskRows))
            let view = TexelFormat(type)
            try seq.dispatch(pipeline, buffers: [q, k, v, mask ?? out, out], push: push, groups: Self.groups(heads * lq, local: 64),
                             texelFormats: [0: view, 1: view, 2: view])
            return
        }
        guard let scores else { throw OperatorError.shape("composed attention needs scores scratch of \(heads)×\(lq)×\(lk) floats") }
        try check(e(scores) >= heads * lq * lk, "attention scratch holds \(e(scores)) < \(heads)×\(lq)×\(lk)")
        try matmul(seq, a: q, b: k, c: scores, m: lq, n: lk, k: d, batch: heads, transposeB: true, batchStrideB: lk * d,
                   aType: type, bType: type, cType: type)
        try softmax(seq, x: scores, y: scores, rows: heads * lq, d: lk, scale: scale, mask: mask, maskRows: maskRows, type: type)
        try matmul(seq, a: scores, b: v, c: out, m: lq, n: d, k: lk, batch: heads, batchStrideB: lk * d, aType: type, bType: type, cType: type)
    }
}

// Push constants of these operators, field by field as their shaders declare them (std430, 4-byte scalars).

/// Push-constant structs, field by field as declared in the shaders (std430 push_constant layout: 4-byte
/// scalars, no padding). `OperatorTests` checks every size against the shader's declaration.
public struct MatmulPush: PushConstantBlock {
    public var m, n, k: UInt32
    public var strideA, strideB, strideC: UInt32
    public var hasBias: UInt32
    public var alpha: Float
    public static let shaderSize = 32
}

public struct UnaryPush: PushConstantBlock {
    public var n: UInt32
    public var alpha: Float
    public var beta: Float
    public static let shaderSize = 12
}

public struct BinaryPush: PushConstantBlock {
    public var n, nb, inner: UInt32
    public static let shaderSize = 12
}

public struct NormPush: PushConstantBlock {
    public var rows, d: UInt32
    public var eps, scale: Float
    public var hasBeta: UInt32
    public static let shaderSize = 20
}

public struct SoftmaxPush: PushConstantBlock {
    public var rows, d: UInt32
    public var scale: Float
    public var hasMask, maskRows: UInt32
    public static let shaderSize = 20
}

public struct GegluPush: PushConstantBlock {
    public var rows, d: UInt32
    public static let shaderSize = 8
}

public struct ScaleShiftPush: PushConstantBlock {
    public var n, c, inner: UInt32
    public static let shaderSize = 12
}

public struct RotaryPush: PushConstantBlock {
    public var rows, d, l: UInt32
    public static let shaderSize = 12
}

public struct AttentionPush: PushConstantBlock {
    public var h, lq, lk: UInt32
    public var scale: Float
    public var hasMask, maskRows: UInt32
    public static let shaderSize = 24
}

public import AvatarVulkan

/// Which shader variant stores which operand element types. fp16 activations (fp16 storage, fp32 arithmetic and
/// accumulation) exist for the operators HuBERT and ICS-A2M use; weights, biases and norm parameters stay fp32
/// (matmul's B may be fp16 as before). The graph asks these when a graph is built, so an unsupported mix is a
/// `GraphError` naming the node instead of a failure at plan time; the operators ask them again when recording.
extension Operators {
    static func unsupported(_ op: String, _ types: [(String, Tensor.ElementType)]) -> OperatorError {
        .elementType("\(op) has no variant for " + types.map { "\($0.0) \($0.1.rawValue)" }.joined(separator: ", "))
    }

    /// fp16 activations need 16-bit storage buffers (the variants use GL_EXT_shader_16bit_storage).
    public static func checkHalfActivations(_ info: VulkanDeviceInfo) throws {
        guard info.storageBuffer16BitAccess else {
            throw OperatorError.elementType("fp16 activations need storageBuffer16BitAccess, which \(info.name) does not offer")
        }
    }

    /// Elements of `type` a slice holds.
    static func elements(_ slice: BufferSlice, _ type: Tensor.ElementType) -> Int { slice.byteCount / type.byteSize }

    public static func activationVariant(_ kind: Activation, type: Tensor.ElementType) throws -> ShaderVariant<UnaryPush> {
        switch (kind, type) {
        case (.gelu, .float32): Shader.unaryGelu
        case (.gelu, .float16): Shader.unaryGeluH
        case (.silu, .float32): Shader.unarySilu
        case (.relu, .float32): Shader.unaryRelu
        case (.leakyRelu, .float32): Shader.unaryLeakyRelu
        case (.softplus, .float32): Shader.unarySoftplus
        case (.sigmoid, .float32): Shader.unarySigmoid
        case (.tanh, .float32): Shader.unaryTanh
        case (.relu, .float16): Shader.unaryReluH
        case (.leakyRelu, .float16): Shader.unaryLeakyReluH
        case (.sigmoid, .float16): Shader.unarySigmoidH
        default: throw unsupported(kind.rawValue, [("x/y", type)])
        }
    }

    /// a and y share a type; b (a bias or a second activation) may be fp32 under fp16 activations.
    public static func binaryVariant(_ op: BinaryOp, a: Tensor.ElementType, b: Tensor.ElementType) throws -> ShaderVariant<BinaryPush> {
        switch (op, a, b) {
        case (.add, .float32, .float32): Shader.binaryAdd
        case (.mul, .float32, .float32): Shader.binaryMul
        case (.add, .float16, .float16): Shader.binaryAddH
        case (.add, .float16, .float32): Shader.binaryAddHB32
        case (.mul, .float16, .float16): Shader.binaryMulH
        case (.mul, .float16, .float32): Shader.binaryMulHB32
        default: throw unsupported(op.rawValue, [("a/y", a), ("b", b)])
        }
    }

    public static func scaleShiftVariant(type: Tensor.ElementType) -> ShaderVariant<ScaleShiftPush> {
        type == .float16 ? Shader.scaleShiftH : Shader.scaleShift
    }

    public static func layerNormVariant(type: Tensor.ElementType) -> ShaderVariant<NormPush> {
        type == .float16 ? Shader.layerNormH : Shader.layerNorm
    }

    public static func rowL2NormVariant(type: Tensor.ElementType) -> ShaderVariant<NormPush> {
        type == .float16 ? Shader.rowL2NormH : Shader.rowL2Norm
    }

    public static func qkNormRotaryVariant(type: Tensor.ElementType) -> ShaderVariant<QKNormRotaryPush> {
        type == .float16 ? Shader.qkNormRotaryH : Shader.qkNormRotary
    }

    public static func softmaxVariant(rowPerInvocation: Bool, type: Tensor.ElementType) -> ShaderVariant<SoftmaxPush> {
        switch (rowPerInvocation, type) {
        case (true, .float32): Shader.softmaxRows
        case (false, .float32): Shader.softmax
        case (true, .float16): Shader.softmaxRowsH
        case (false, .float16): Shader.softmaxH
        }
    }

    public static func rowLayerNormVariant(type: Tensor.ElementType) -> ShaderVariant<NormPush> {
        type == .float16 ? Shader.rowLayerNormH : Shader.rowLayerNorm
    }

    public static func resizeVariant(_ mode: ResizeMode, type: Tensor.ElementType) -> ShaderVariant<ResizePush> {
        switch (mode, type) {
        case (.nearest, .float16): Shader.resizeNearestH
        case (.bilinear, .float16): Shader.resizeBilinearH
        case (.bilinearAlignCorners, .float16): Shader.resizeBilinearAlignH
        case (.antialias, .float16): Shader.resizeAntialiasH
        case (.nearest, _): Shader.resizeNearest
        case (.bilinear, _): Shader.resizeBilinear
        case (.bilinearAlignCorners, _): Shader.resizeBilinearAlign
        case (.antialias, _): Shader.resizeAntialias
        }
    }

    public static func pool2dVariant(_ mode: PoolMode, type: Tensor.ElementType) -> ShaderVariant<Pool2dPush> {
        switch (mode, type) {
        case (.max, .float16): Shader.pool2dMaxH
        case (.avg, .float16): Shader.pool2dAvgH
        case (.max, _): Shader.pool2dMax
        case (.avg, _): Shader.pool2dAvg
        }
    }

    public static func gegluVariant(type: Tensor.ElementType) -> ShaderVariant<GegluPush> { type == .float16 ? Shader.gegluH : Shader.geglu }

    public static func conv1dVariant(type: Tensor.ElementType) -> ShaderVariant<Conv1dPush> { type == .float16 ? Shader.conv1dH : Shader.conv1d }

    public static func attentionVariant(type: Tensor.ElementType) -> ShaderVariant<AttentionPush> {
        type == .float16 ? Shader.attentionH : Shader.attention
    }

    public static func copyVariant(x: Tensor.ElementType, y: Tensor.ElementType) -> ShaderVariant<CopyPush> {
        switch (x, y) {
        case (.float32, .float32): Shader.copy
        case (.float16, .float16): Shader.copyH
        case (.float32, .float16): Shader.copyF32H
        case (.float16, .float32): Shader.copyHF32
        }
    }

    /// The vec4 kernel reads A and B through texel views of any format, so only C picks the variant.
    static func matmulVec4Variant(transposeB: Bool, rows: Int, c: Tensor.ElementType) -> ShaderVariant<MatmulPush> {
        switch (transposeB, rows, c) {
        case (false, 1, .float32): Shader.matmulVec4M1
        case (false, 8, .float32): Shader.matmulVec4M8
        case (false, _, .float32): Shader.matmulVec4
        case (true, 1, .float32): Shader.matmulVec4BtM1
        case (true, 8, .float32): Shader.matmulVec4BtM8
        case (true, _, .float32): Shader.matmulVec4Bt
        case (false, 1, .float16): Shader.matmulVec4M1H
        case (false, 8, .float16): Shader.matmulVec4M8H
        case (false, _, .float16): Shader.matmulVec4H
        case (true, 1, .float16): Shader.matmulVec4BtM1H
        case (true, 8, .float16): Shader.matmulVec4BtM8H
        case (true, _, .float16): Shader.matmulVec4BtH
        }
    }

    /// The scalar kernel (unaligned shapes): A and C share a type, B is fp32 or fp16 either way.
    public static func matmulScalarVariant(transposeB: Bool, a: Tensor.ElementType, b: Tensor.ElementType, c: Tensor.ElementType) throws -> ShaderVariant<MatmulPush> {
        switch (transposeB, a, b, c) {
        case (false, .float32, .float32, .float32): Shader.matmul
        case (true, .float32, .float32, .float32): Shader.matmulBt
        case (false, .float32, .float16, .float32): Shader.matmulF16
        case (true, .float32, .float16, .float32): Shader.matmulBtF16
        case (false, .float16, .float32, .float16): Shader.matmulH
        case (true, .float16, .float32, .float16): Shader.matmulBtH
        case (false, .float16, .float16, .float16): Shader.matmulHB16
        case (true, .float16, .float16, .float16): Shader.matmulBtHB16
        default: throw unsupported("matmul", [("A", a), ("B", b), ("C", c)])
        }
    }
}

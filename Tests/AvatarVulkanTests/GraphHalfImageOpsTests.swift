import AvatarGraph
import AvatarOperators
import AvatarVulkan
import Testing

/// The fp16-activation variants of the image operators (the MimicTalk renderer's): each builder call on the same
/// inputs in an fp16 graph and an fp32 graph. Tolerance: the fp16 result differs by the rounding of its fp16 input
/// and output (2⁻¹¹ relative each) times the operator's fan-in averaging, so ≤ 8·2⁻¹¹·max|y| is ample for a
/// correct variant (fp32 accumulation), while an fp16 accumulation over hundreds of terms, a wrong index or a
/// misread texel format would be far off.
@Suite(.serialized) struct GraphHalfImageOpsTests {
    var gpu: GPUHarness { get throws { try #require(GPUHarness.shared, "no Vulkan device") } }

    /// Builds `body` in an fp32 and an fp16 graph over inputs of `shapes` (name → shape; names starting with
    /// "alpha" are fp32 in both), runs both and compares the outputs.
    func compare(_ name: String, _ shapes: [(String, [Int])], sourceLocation: SourceLocation = #_sourceLocation,
                 _ body: (Graph, [GraphValue]) throws -> GraphValue) throws {
        let gpu = try gpu
        var outputs: [[Float]] = []
        for type in [GraphElementType.float32, .float16] {
            let g = try Graph(name: name, ops: gpu.ops, activations: type)
            let inputs = try shapes.map { try g.input($0.0, $0.1, $0.0.hasPrefix("alpha") ? .float32 : nil) }
            let y = try body(g, inputs)
            #expect(y.elementType == type, "\(name): result is \(y.elementType)", sourceLocation: sourceLocation)
            try g.output("y", y)
            let network = try g.plan()
            for (i, (input, shape)) in shapes.enumerated() {
                let values = GPUHarness.random(shape.reduce(1, *), seed: UInt64(31 + i))
                try network.write(input, input.hasPrefix("alpha") ? values.map { ($0 + 1) / 2 } : values)
            }
            try network.run()
            outputs.append(try network.read("y"))
        }
        let (single, half) = (outputs[0], outputs[1])
        let scale = Double(single.map { abs($0) }.max() ?? 0)
        var worst = 0.0
        for (a, b) in zip(single, half) { worst = max(worst, Double(abs(a - b)).isNaN ? .infinity : Double(abs(a - b))) }
        let limit = 8 * scale / 2048
        print("fp16 \(name): max |Δ| \(worst) (max |y| \(scale), limit \(limit))")
        #expect(half.count == single.count && worst <= limit && scale > 0, "\(name): fp16 vs fp32 max |Δ| \(worst) > \(limit)",
                sourceLocation: sourceLocation)
    }

    func weights(_ g: Graph, _ label: String, _ shape: [Int], seed: UInt64, scale: Float = 0.2) throws -> GraphValue {
        try g.constant(label, values: GPUHarness.random(shape.reduce(1, *), seed: seed, scale: scale), shape: shape)
    }

    @Test func convolutions() throws {
        try compare("conv2d_direct", [("x", [4, 9, 11])]) { g, x in
            try g.conv2d(x[0], weight: try weights(g, "w", [6, 2, 3, 3], seed: 1), bias: try weights(g, "b", [6], seed: 2), stride: 2, groups: 2)
        }
        try compare("conv2d_gemm", [("x", [8, 13, 12])]) { g, x in
            try g.conv2d(x[0], weight: try weights(g, "w", [16, 8, 3, 3], seed: 3), bias: try weights(g, "b", [16], seed: 4), stride: 2)
        }
        try compare("conv2d_rows", [("x", [12, 10, 16])]) { g, x in
            try g.conv2dRows(x[0], weight: try weights(g, "w", [20, 12, 3, 3], seed: 5), bias: try weights(g, "b", [20], seed: 6))
        }
        try compare("conv3d_gemm", [("x", [6, 4, 8, 8])]) { g, x in
            try g.conv3d(x[0], weight: try weights(g, "w", [16, 6, 3, 3, 3], seed: 7), bias: try weights(g, "b", [16], seed: 8))
        }
        try compare("conv3d_gemm_m8", [("x", [6, 4, 8, 8])]) { g, x in
            try g.conv3d(x[0], weight: try weights(g, "w", [5, 6, 3, 3, 3], seed: 9), bias: nil)
        }
        try compare("up_conv2d", [("x", [8, 7, 9])]) { g, x in
            try g.upConv2d(x[0], weight: try weights(g, "w", [16, 8, 3, 3], seed: 10), bias: try weights(g, "b", [16], seed: 11))
        }
        try compare("up_conv2d_phases", [("x", [8, 8, 8])]) { g, x in
            try g.upConv2dPhases(x[0], weight: try weights(g, "w", [16, 8, 3, 3], seed: 12))
        }
        try compare("fir_bias_act", [("x", [5, 9, 10])]) { g, x in
            try g.firBiasActivation(x[0], filter: try weights(g, "f", [4, 4], seed: 13, scale: 1), bias: try weights(g, "b", [5], seed: 14),
                                    padY: (1, 2), padX: (2, 1), slope: 0.2, gain: 1.41)
        }
    }

    @Test func samplingNormsAndElementwise() throws {
        for mode in Operators.ResizeMode.allCases {
            try compare("resize_\(mode.rawValue)", [("x", [3, 9, 13])]) { g, x in try g.resize(x[0], to: (14, 6), mode: mode) }
        }
        try compare("pool2d_max", [("x", [3, 9, 12])]) { g, x in try g.pool2d(x[0], .max, kernel: (3, 3), stride: (1, 1), padding: (1, 1)) }
        try compare("pool2d_avg", [("x", [3, 9, 12])]) { g, x in try g.pool2d(x[0], .avg, kernel: (2, 2), stride: (2, 2)) }
        try compare("relu", [("x", [300])]) { g, x in try g.activation(.relu, x[0]) }
        try compare("leaky_relu", [("x", [300])]) { g, x in try g.activation(.leakyRelu, x[0], alpha: 0.2, gain: 1.41) }
        try compare("sigmoid", [("x", [300])]) { g, x in try g.activation(.sigmoid, x[0]) }
        try compare("mul", [("x", [4, 75]), ("t", [4, 75])]) { g, x in try g.mul(x[0], x[1]) }
        try compare("mul_fp32_b", [("x", [4, 75])]) { g, x in try g.mul(x[0], try weights(g, "s", [75], seed: 15)) }
        try compare("row_layer_norm", [("x", [40, 32])]) { g, x in
            try g.rowLayerNorm(x[0], weight: try weights(g, "gamma", [32], seed: 16), bias: try weights(g, "beta", [32], seed: 17), eps: 1e-5)
        }
        try compare("alpha_mix", [("x", [3, 6, 7]), ("t", [3, 6, 7]), ("alpha", [1, 6, 7])]) { g, x in
            try g.alphaMix(x[0], x[1], alpha: x[2])
        }
        try compare("alpha_split", [("x", [3, 6, 7]), ("t", [5, 6, 7]), ("alpha", [1, 6, 7])]) { g, x in
            try g.alphaSplit(x[0], x[1], alpha: x[2])
        }
    }
}

import AvatarFormats
import AvatarMotion
import AvatarOperators
import AvatarVulkan
import Foundation
import Testing

/// HuBERT and ICS-A2M with fp16 activations (fp16 storage of every intermediate, fp32 arithmetic, accumulation
/// and norm statistics) against the float64 goldens and against the same model with fp32 activations.
///
/// Tolerance: each stored activation is rounded to fp16, a relative error of at most 2^-11 (4.9e-4) of its
/// magnitude. Those roundings pass through every layer, and the norms rescale them, so an output's error is a
/// small multiple of 2^-11 times the size of the values it is made of: we allow `k`·2^-11·max|golden| per
/// output: k = 16 for a network output (a few dozen roundings per layer, most averaged out by the matmuls'
/// sums; measured 1.5–6.5), k = 8 for the short condition encoder (measured 0.9–1.0), and k = 32 for a whole
/// sample, whose guidance u + s·(c − u) at s = 1.5 weighs each branch's velocity error up to 2× and whose
/// 3 midpoint steps carry the state's own rounding forward (measured 3.0–14.9). The measured errors are
/// printed and recorded in docs/performance.md. fp32 activations keep the parity suites' own (much tighter)
/// tolerances.
@Suite(.serialized) struct FP16ActivationParityTests {
    static let unit = pow(2.0, -11.0)

    struct Error { var maxAbs: Double; var meanAbs: Double }

    static func error(_ got: [Float], _ want: [Float]) -> Error {
        precondition(got.count == want.count, "\(got.count) vs \(want.count)")
        var maxAbs = 0.0, sum = 0.0
        for (a, b) in zip(got, want) {
            let d = abs(Double(a) - Double(b))
            maxAbs = max(maxAbs, d.isNaN ? .infinity : d)
            sum += d
        }
        return Error(maxAbs: maxAbs, meanAbs: sum / Double(max(1, got.count)))
    }

    /// Checks fp16 output `half` against the golden within k·2^-11·max|golden| and prints its distance to fp32.
    static func check(_ half: [Float], fp32: [Float], golden: [Float], k: Double, _ what: String,
                      sourceLocation: SourceLocation = #_sourceLocation) {
        let scale = golden.map { abs(Double($0)) }.max() ?? 0
        let limit = k * unit * scale
        let vsGolden = error(half, golden), vsFP32 = error(half, fp32), fp32Golden = error(fp32, golden)
        print(String(format: "fp16 %@: vs golden max %.3e mean %.3e (limit %.3e = %.0f·2^-11·%.3g); vs fp32 max %.3e mean %.3e; fp32 vs golden max %.3e",
                     what, vsGolden.maxAbs, vsGolden.meanAbs, limit, k, scale, vsFP32.maxAbs, vsFP32.meanAbs, fp32Golden.maxAbs))
        let finite = half.allSatisfy { $0.isFinite }
        #expect(finite, "\(what): fp16 output has NaN or Inf", sourceLocation: sourceLocation)
        #expect(vsGolden.maxAbs <= limit, "\(what): max |Δ| \(vsGolden.maxAbs) > \(limit)", sourceLocation: sourceLocation)
        // fp16 storage must change something: equal outputs would mean the option stored fp32.
        #expect(vsFP32.maxAbs > 0, "\(what): fp16 and fp32 activations gave identical outputs", sourceLocation: sourceLocation)
    }

    func hubertCase(_ model: String) throws {
        let (device, ops) = try MotionGPU.get()
        let io = try MotionFixtures.file(model)
        let wave = try MotionFixtures.file("hubert_tiny").tensor("io.wave").floats()
        let config = try HuBERTConfig(manifest: try MotionFixtures.manifestConfig(model))
        let weights = try HuBERTWeights(recipeFor: config, device: device)
        let input = HuBERTEncoder.normalize(wave, eps: config.normalizeEps)
        let full = try HuBERTEncoder(weights: weights, ops: ops).trace(normalized: input)
        let half = try HuBERTEncoder(weights: weights, ops: ops, activations: .float16).trace(normalized: input)
        for name in HuBERTEncoder.traceNames(layers: config.numLayers) {
            Self.check(half[name]!, fp32: full[name]!, golden: try io.tensor("io.\(name)").floats(), k: 16, "\(model) \(name)")
        }
        Self.check(half["features"]!, fp32: full["features"]!, golden: try io.tensor("io.last_hidden_state").floats(), k: 16,
                   "\(model) last_hidden_state")
    }

    @Test func hubertTinyStableLayerNorm() throws { try hubertCase("hubert_tiny") }

    @Test func hubertTinyPostLayerNorm() throws { try hubertCase("hubert_tiny_postln") }

    /// HuBERT-large (1024-d, 24 layers, recipe weights) on 0.4 s of recipe input: the head columns of the
    /// features and every row's L2 norm against the float64 reference.
    @Test func hubertLarge() throws {
        let model = "hubert_large"
        let (device, ops) = try MotionGPU.get()
        let config = try HuBERTConfig(manifest: try MotionFixtures.manifestConfig(model))
        let io = try MotionFixtures.file(model)
        let weights = try HuBERTWeights(recipeFor: config, device: device)
        let input = HuBERTEncoder.normalize(MotionFixtures.inputRecipe(model, "input.wave"), eps: config.normalizeEps)
        let full = try HuBERTEncoder(weights: weights, ops: ops).encode(normalized: input)
        let half = try HuBERTEncoder(weights: weights, ops: ops, activations: .float16).encode(normalized: input)
        let h = config.hiddenSize, rows = full.count / h, cols = MotionFixtures.model(model)["head_cols"] as! Int
        let head = { (x: [Float]) in (0..<rows).flatMap { x[($0 * h)..<($0 * h + cols)] } }
        let rowL2 = { (x: [Float]) in (0..<rows).map { r in Float(x[(r * h)..<((r + 1) * h)].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()) } }
        Self.check(head(half), fp32: head(full), golden: try io.tensor("io.head").floats(), k: 16, "\(model) features head")
        Self.check(rowL2(half), fp32: rowL2(full), golden: try io.tensor("io.row_l2").floats(), k: 16, "\(model) features row L2")
        let all = Self.error(half, full)
        print(String(format: "fp16 %@ all features vs fp32: max %.3e mean %.3e", model, all.maxAbs, all.meanAbs))
    }

    /// The A2M transformer (tiny and full size): condition, both CFG branches of one velocity and a whole sample.
    func a2mCase(_ name: String) throws {
        let io = try MotionFixtures.file(name)
        let invFreq = name == "a2m_full" ? try io.tensor("rotary.inv_freq").floats() : nil
        let full = try ICSA2MParityTests.load(name, invFreq: invFreq)
        let half = ICSA2MRunner(model: full.model, activations: .float16)
        let model = full.model, c = model.config
        let inputs: (style: [Float], features: [Float], motion: [Float], noise: [Float])
        if name == "a2m_full" {
            inputs = (MotionFixtures.inputRecipe(name, "input.style_features"), MotionFixtures.inputRecipe(name, "input.features"),
                      MotionFixtures.inputRecipe(name, "input.style_motion"), MotionFixtures.inputRecipe(name, "input.noise"))
        } else {
            inputs = (try io.tensor("io.input.style_features").floats(), try io.tensor("io.input.features").floats(),
                      try io.tensor("io.input.style_motion").floats(), try io.tensor("io.input.noise").floats())
        }
        let tProbe = Float(MotionFixtures.probe["t_probe"] as! Double)
        let temperature = Float(MotionFixtures.probe["temperature"] as! Double)
        let (_, condFull) = try full.condition(features: inputs.style + inputs.features)
        let (_, condHalf) = try half.condition(features: inputs.style + inputs.features)
        Self.check(condHalf, fp32: condFull, golden: try io.tensor("io.cond_emb").floats(), k: 8, "\(name) cond_emb")

        let m = c.motionDim, n = condFull.count / m
        // Both runners get the same (golden-precision) condition, so the velocity error is the transformer's own.
        let x = ICSA2MParityTests.branchInputs(model: model, cond: condFull, styleMotion: inputs.motion, noise: inputs.noise, temperature: temperature)
        let vFull = try full.velocity(inputs: x, sequences: 2, rows: n, t: tProbe)
        let vHalf = try half.velocity(inputs: x, sequences: 2, rows: n, t: tProbe)
        Self.check(Array(vHalf[0..<(n * m)]), fp32: Array(vFull[0..<(n * m)]), golden: try io.tensor("io.velocity_cond").floats(), k: 16,
                   "\(name) velocity_cond")
        Self.check(Array(vHalf[(n * m)...]), fp32: Array(vFull[(n * m)...]), golden: try io.tensor("io.velocity_null").floats(), k: 16,
                   "\(name) velocity_null")

        let noise = Array(inputs.noise[inputs.motion.count...])
        let yFull = try ICSA2MParityTests.probeSampler.sample(runner: full, promptMotion: inputs.motion, promptFeatures: inputs.style,
                                                              features: inputs.features, noise: noise)
        let yHalf = try ICSA2MParityTests.probeSampler.sample(runner: half, promptMotion: inputs.motion, promptFeatures: inputs.style,
                                                              features: inputs.features, noise: noise)
        Self.check(yHalf, fp32: yFull, golden: try io.tensor("io.sample").floats(), k: 32, "\(name) sample")
    }

    @Test func a2mTiny() throws { try a2mCase("a2m_tiny") }

    @Test func a2mFullSize() throws { try a2mCase("a2m_full") }
}

import AvatarBundle
import AvatarFormats
import AvatarMotion
import AvatarOperators
import AvatarStages
import AvatarVulkan
import Foundation
import Testing

/// HuBERT on Vulkan against the PyTorch reference (tools/reference/hubert.py). Goldens are the float64
/// reference rounded to float32; the tolerance of an output is 10× the reference's own float32 deviation
/// (`f32_error`) plus 1e-5 of the output's largest magnitude (docs/motion.md §5).
@Suite(.serialized) struct HuBERTParityTests {
    static func encoder(_ config: HuBERTConfig) throws -> HuBERTEncoder {
        let (device, ops) = try MotionGPU.get()
        return HuBERTEncoder(weights: try HuBERTWeights(recipeFor: config, device: device), ops: ops)
    }

    static func tolerance(_ model: String, _ output: String) -> Double {
        let errors = MotionFixtures.model(model)["f32_error"] as! [String: [String: Double]]
        return 10 * errors[output]!["max_abs"]! + 1e-5 * errors[output]!["max_abs_golden"]!
    }

    static func check(_ got: [Float], _ model: String, _ output: String, _ io: SafeTensorsFile) throws {
        let want = try io.tensor(output).floats()
        let err = maxAbsDiff(got, want), limit = tolerance(model, output)
        print("\(model) \(output): max |Δ| \(err), limit \(limit), f32_error \(MotionFixtures.floor(model, output))")
        #expect(err <= limit, "\(model) \(output): max |Δ| \(err) > \(limit)")
    }

    @Test func configAndRecipeMatchTheFixtures() throws {
        for (name, expected) in [("hubert_tiny", HuBERTConfig.tiny(stable: true)), ("hubert_tiny_postln", .tiny(stable: false)),
                                 ("hubert_large", HuBERTConfig())] {
            let config = try HuBERTConfig(manifest: try MotionFixtures.manifestConfig(name))
            #expect(config == expected, "\(name)")
            #expect(config.rowsPerSecond == 50 && config.stride == 320)
            let recipe = MotionFixtures.model(name)["recipe"] as! [[String: Any]]
            let ours = config.recipe()
            #expect(ours.count == recipe.count, "\(name): \(ours.count) tensors vs \(recipe.count)")
            for (a, b) in zip(ours, recipe) {
                #expect(a.name == b["name"] as! String && a.shape == b["shape"] as! [Int], "\(name): \(a.name)")
                // Within JSON parsing (Foundation's reader is not always correctly rounded); the large model's
                // parity below checks the generated values themselves.
                let scale = b["scale"] as! Double, offset = b["offset"] as! Double
                #expect(abs(a.scale - scale) <= 1e-15 * scale && a.offset == offset, "\(name): \(a.name) scale \(a.scale) vs \(scale)")
            }
        }
        #expect(HuBERTConfig().receptiveField == 400)
        #expect(HuBERTConfig().rows(samples: 6400) == 19)
    }

    @Test func badConfigsAndTensorsAreRefusedWithNames() throws {
        var config = try MotionFixtures.manifestConfig("hubert_tiny")
        config["feat_extract_norm"] = .string("batch")
        #expect(throws: MotionModelError.self) { try HuBERTConfig(manifest: config) }
        config = try MotionFixtures.manifestConfig("hubert_tiny")
        config["num_heads"] = .number(5)
        #expect(throws: MotionModelError.self) { try HuBERTConfig(manifest: config) }

        // A weight file whose q projection of layer 1 has the wrong shape.
        let tiny = HuBERTConfig.tiny(stable: true)
        var writer = SafeTensorsWriter()
        for (name, shape) in tiny.tensorShapes {
            let bad = name == "layers.1.attn.q.weight"
            let s = bad ? [24, 23] : shape
            writer.add(name, shape: s, floats: [Float](repeating: 0.5, count: s.reduce(1, *)))
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("hubert-bad-\(UUID().uuidString).safetensors")
        try writer.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let (device, _) = try MotionGPU.get()
        do {
            _ = try HuBERTWeights(file: try SafeTensorsFile(url: url), config: tiny, device: device)
            Issue.record("a misshaped tensor was accepted")
        } catch let error as MotionModelError {
            #expect(error.message.contains("layers.1.attn.q.weight"), "\(error)")
            #expect(error.message.contains("[24, 23]") && error.message.contains("expected [24, 24]"), "\(error)")
        }
    }

    @Test func recipeWeightsOnTheDeviceAreBitIdentical() throws {
        let (device, _) = try MotionGPU.get()
        let config = HuBERTConfig.tiny(stable: true)
        let weights = try HuBERTWeights(recipeFor: config, device: device)
        for entry in config.recipe() where ["pos_conv.weight", "layers.1.ff.in.weight", "encoder_norm.weight"].contains(entry.name) {
            let got = try weights.tensor(entry.name).storage.read()
            let want = RecipeWeights.generate(name: entry.name, count: entry.shape.reduce(1, *), scale: entry.scale, offset: entry.offset)
            #expect(got.prefix(want.count).map(\.bitPattern) == want.map(\.bitPattern), "\(entry.name)")
        }
    }

    func tinyCase(_ model: String, stable: Bool) throws {
        let io = try MotionFixtures.file(model)
        let wave = try MotionFixtures.file("hubert_tiny").tensor("io.wave").floats()
        var config = try HuBERTConfig(manifest: try MotionFixtures.manifestConfig(model))
        #expect(config.stableLayerNorm == stable)
        config.chunkFrames = 6
        let encoder = try Self.encoder(config)
        let trace = try encoder.trace(normalized: HuBERTEncoder.normalize(wave, eps: config.normalizeEps))
        for name in HuBERTEncoder.traceNames(layers: config.numLayers) {
            try Self.check(trace[name]!, model, "io.\(name)", io)
        }
        try Self.check(trace["features"]!, model, "io.last_hidden_state", io)
        if io.tensors["io.chunked"] != nil {
            let chunked = try encoder.utteranceFeatures(wave, padded: false)
            try Self.check(chunked.values, model, "io.chunked", io)
            let padded = try encoder.utteranceFeatures(wave)
            #expect(padded.count % 8 == 0 && padded.count >= chunked.count && padded.count < chunked.count + 8)
            #expect(Array(padded.values.prefix(chunked.values.count)) == chunked.values)
            #expect(padded.values.dropFirst(chunked.values.count).allSatisfy { $0 == 0 })
        }
    }

    @Test func tinyStableLayerNormMatchesTheReference() throws { try tinyCase("hubert_tiny", stable: true) }

    @Test func tinyPostLayerNormMatchesTheReference() throws { try tinyCase("hubert_tiny_postln", stable: false) }

    /// HuBERT-large (1024-d, 24 layers) with recipe weights regenerated in Swift, on 0.4 s of recipe input.
    @Test func hubertLargeMatchesTheReferenceStatistics() throws {
        let model = "hubert_large"
        let config = try HuBERTConfig(manifest: try MotionFixtures.manifestConfig(model))
        let io = try MotionFixtures.file(model)
        let wave = MotionFixtures.inputRecipe(model, "input.wave")
        let encoder = try Self.encoder(config)
        let trace = try encoder.trace(normalized: HuBERTEncoder.normalize(wave, eps: config.normalizeEps))
        let h = config.hiddenSize, out = trace["features"]!, rows = out.count / h
        #expect(rows == 19)
        let headCols = MotionFixtures.model(model)["head_cols"] as! Int
        let head = (0..<rows).flatMap { out[($0 * h)..<($0 * h + headCols)] }
        try Self.check(head, model, "io.head", io)
        func rowStats(_ x: [Float], width: Int) -> (mean: [Float], std: [Float], l2: [Float]) {
            var m: [Float] = [], s: [Float] = [], l: [Float] = []
            for r in 0..<(x.count / width) {
                let row = x[(r * width)..<((r + 1) * width)].map(Double.init)
                let mean = row.reduce(0, +) / Double(width)
                m.append(Float(mean))
                s.append(Float((row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)).squareRoot()))
                l.append(Float(row.map { $0 * $0 }.reduce(0, +).squareRoot()))
            }
            return (m, s, l)
        }
        let stats = rowStats(out, width: h)
        try Self.check(stats.mean, model, "io.row_mean", io)
        try Self.check(stats.std, model, "io.row_std", io)
        try Self.check(stats.l2, model, "io.row_l2", io)
        try Self.check(rowStats(trace["extract"]!, width: config.extractorChannels).l2, model, "io.extract_row_l2", io)
    }
}

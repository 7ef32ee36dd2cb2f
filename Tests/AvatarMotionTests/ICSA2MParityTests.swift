import AvatarBundle
import AvatarFormats
import AvatarMotion
import AvatarOperators
import AvatarVulkan
import Foundation
import Testing

/// ICS-A2M on Vulkan against the PyTorch reference (float64 goldens; tolerance = a small multiple of the
/// reference's own float32 deviation plus an absolute floor for summation order).
@Suite(.serialized) struct ICSA2MParityTests {
    static func load(_ name: String, invFreq: [Float]? = nil) throws -> ICSA2MRunner {
        let (device, ops) = try MotionGPU.get()
        let config = try ICSA2MConfig(manifest: try MotionFixtures.manifestConfig(name))
        let url = try MotionFixtures.recipeFile(name, invFreq: invFreq ?? MotionFixtures.invFreq(dimHead: config.dimHead))
        defer { try? FileManager.default.removeItem(at: url) }
        return ICSA2MRunner(model: try ICSA2MModel(url: url, config: config, device: device, ops: ops))
    }

    @Test func recipeWeightsMatchThePythonScheme() throws {
        for sample in MotionFixtures.json["hash_samples"] as! [[String: Any]] {
            let name = sample["name"] as! String
            if let hash = sample["fnv1a64"] as? String {
                #expect(String(RecipeWeights.fnv1a64(name), radix: 16).leftPadded(16) == hash)
            } else {
                let index = sample["index"] as! Int
                let v = RecipeWeights.generate(name: name, count: index + 1, scale: 0.5, offset: 0.25)[index]
                #expect(String(v.bitPattern, radix: 16).leftPadded(8) == sample["float32_bits"] as! String, "\(name)[\(index)]")
            }
        }
    }

    @Test func tinyModelMatchesTheReference() throws {
        let runner = try Self.load("a2m_tiny")
        let model = runner.model, c = model.config
        let io = try MotionFixtures.file("a2m_tiny")
        func golden(_ n: String) throws -> [Float] { try io.tensor(n).floats() }
        let tProbe = Float(MotionFixtures.probe["t_probe"] as! Double)
        let temperature = Float(MotionFixtures.probe["temperature"] as! Double)
        let steps = MotionFixtures.probe["steps"] as! Int, cfgScale = Float(MotionFixtures.probe["cfg_scale"] as! Double)

        // Host parts: rotary tables and the time embedding.
        let tables = model.rotaryTables(rows: 24)
        let cosG = try golden("io.rotary_cos"), half = c.dimHead / 2
        let cosHalf = stride(from: 0, to: cosG.count, by: c.dimHead).flatMap { cosG[$0..<($0 + half)] }
        #expect(maxAbsDiff(tables.cos, cosHalf) < 1e-6)
        #expect(maxAbsDiff(model.timeEmbedding(tProbe), try golden("io.time_emb")) < 1e-6)

        // Audio condition.
        let feats = try golden("io.input.style_features") + golden("io.input.features")
        let (audio, cond) = try runner.condition(features: feats)
        #expect(maxAbsDiff(audio, try golden("io.audio_emb")) < 1e-5)
        #expect(maxAbsDiff(cond, try golden("io.cond_emb")) < 1e-5)

        // One evaluation of both branches at t_probe with x = noise·temperature.
        let styleMotion = try golden("io.input.style_motion"), noise = try golden("io.input.noise")
        let m = c.motionDim, p = styleMotion.count / m, n = cond.count / m
        var inputs = [Float](repeating: 0, count: 2 * n * 3 * m)
        for s in 0..<2 {
            for r in 0..<n {
                let base = (s * n + r) * 3 * m
                for j in 0..<m {
                    if r >= p { inputs[base + j] = noise[r * m + j] * temperature }
                    inputs[base + m + j] = cond[r * m + j]
                    inputs[base + 2 * m + j] = s == 1 ? model.nullCondValues[j] : (r < p ? styleMotion[r * m + j] : 0)
                }
            }
        }
        let v = try runner.velocity(inputs: inputs, sequences: 2, rows: n, t: tProbe)
        #expect(maxAbsDiff(Array(v[0..<(n * m)]), try golden("io.velocity_cond")) < 2e-5)
        #expect(maxAbsDiff(Array(v[(n * m)...]), try golden("io.velocity_null")) < 2e-5)

        // Whole samples (midpoint, CFG) with the injected noise, at the fixture temperature and at 0.
        let targetNoise = Array(noise[(p * m)...])
        let features = try golden("io.input.features"), styleFeatures = try golden("io.input.style_features")
        for (temp, name) in [(temperature, "io.sample"), (Float(0), "io.sample_t0")] {
            let sampler = A2MSampler(steps: steps, cfgScale: cfgScale, temperature: temp)
            let y = try sampler.sample(runner: runner, promptMotion: styleMotion, promptFeatures: styleFeatures,
                                       features: features, noise: targetNoise)
            #expect(maxAbsDiff(y, try golden(name)) < 1e-4, "\(name)")
        }
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}

import AvatarBundle
import AvatarFormats
import AvatarMotion
import AvatarOperators
import AvatarStages
import AvatarVulkan
import Foundation
import Testing

/// ICS-A2M on Vulkan against the PyTorch reference (float64 goldens). Tolerance per output:
/// `MotionFixtures.tolerance` = 10 × the reference's own float32-vs-float64 deviation (`f32_error`) plus
/// 1e-5 × the largest golden magnitude. Measured errors are printed.
@Suite(.serialized) struct ICSA2MParityTests {
    static func load(_ name: String, invFreq: [Float]? = nil) throws -> ICSA2MRunner {
        let (device, ops) = try MotionGPU.get()
        let config = try ICSA2MConfig(manifest: try MotionFixtures.manifestConfig(name))
        let url = try MotionFixtures.recipeFile(name, invFreq: invFreq ?? MotionFixtures.invFreq(dimHead: config.dimHead))
        defer { try? FileManager.default.removeItem(at: url) }
        return ICSA2MRunner(model: try ICSA2MModel(url: url, config: config, device: device, ops: ops))
    }

    /// Checks `got` against the golden `output` of fixture `name` and prints the measured error.
    static func expectMatch(_ got: [Float], _ want: [Float], _ name: String, _ output: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        let error = maxAbsDiff(got, want), tolerance = MotionFixtures.tolerance(name, output)
        print("\(name) \(output): max abs error \(error) (tolerance \(tolerance), f32 floor \(MotionFixtures.floor(name, output)))")
        #expect(error <= tolerance, "\(name) \(output): \(error) > \(tolerance)", sourceLocation: sourceLocation)
    }

    /// Velocity inputs [x·mask ‖ cond_emb ‖ prompt] of the conditional and null branches, x = noise·temperature.
    static func branchInputs(model: ICSA2MModel, cond: [Float], styleMotion: [Float], noise: [Float], temperature: Float) -> [Float] {
        let m = model.config.motionDim, p = styleMotion.count / m, n = cond.count / m
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
        return inputs
    }

    static var probeSampler: A2MSampler {
        A2MSampler(steps: MotionFixtures.probe["steps"] as! Int, cfgScale: Float(MotionFixtures.probe["cfg_scale"] as! Double),
                   temperature: Float(MotionFixtures.probe["temperature"] as! Double))
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

        // Host parts: rotary tables (float32 angle, double cos/sin) and the time embedding.
        let n = 24
        let tables = model.rotaryTables(rows: n)
        let half = c.dimHead / 2
        for (table, name) in [(tables.cos, "io.rotary_cos"), (tables.sin, "io.rotary_sin")] {
            let g = try golden(name)
            #expect(maxAbsDiff(table, stride(from: 0, to: g.count, by: c.dimHead).flatMap { g[$0..<($0 + half)] }) < 1e-6, "\(name)")
            #expect(maxAbsDiff(table, stride(from: 0, to: g.count, by: c.dimHead).flatMap { g[($0 + half)..<($0 + c.dimHead)] }) < 1e-6, "\(name) repeats")
        }
        Self.expectMatch(model.timeEmbedding(tProbe), try golden("io.time_emb"), "a2m_tiny", "io.time_emb")

        // Audio encoder, condition projection, pair mean.
        let styleMotion = try golden("io.input.style_motion"), noise = try golden("io.input.noise")
        let (audio, cond) = try runner.condition(features: try golden("io.input.style_features") + golden("io.input.features"))
        Self.expectMatch(audio, try golden("io.audio_emb"), "a2m_tiny", "io.audio_emb")
        Self.expectMatch(cond, try golden("io.cond_emb"), "a2m_tiny", "io.cond_emb")
        #expect(cond.count == n * c.motionDim)

        // One evaluation of both CFG branches (a batch of 2) at t_probe with x = noise·temperature.
        let m = c.motionDim
        let inputs = Self.branchInputs(model: model, cond: cond, styleMotion: styleMotion, noise: noise, temperature: temperature)
        let v = try runner.velocity(inputs: inputs, sequences: 2, rows: n, t: tProbe)
        Self.expectMatch(Array(v[0..<(n * m)]), try golden("io.velocity_cond"), "a2m_tiny", "io.velocity_cond")
        Self.expectMatch(Array(v[(n * m)...]), try golden("io.velocity_null"), "a2m_tiny", "io.velocity_null")
        // The conditional branch alone (batch of 1) gives the same numbers.
        let single = try runner.velocity(inputs: Array(inputs[0..<(n * 3 * m)]), sequences: 1, rows: n, t: tProbe)
        #expect(maxAbsDiff(single, Array(v[0..<(n * m)])) < 1e-6)

        // Whole samples (midpoint, CFG) with the injected noise, at the fixture temperature and at 0.
        let targetNoise = Array(noise[(styleMotion.count)...])
        for (temp, name) in [(temperature, "io.sample"), (Float(0), "io.sample_t0")] {
            var sampler = Self.probeSampler
            sampler.temperature = temp
            let y = try sampler.sample(runner: runner, promptMotion: styleMotion, promptFeatures: try golden("io.input.style_features"),
                                       features: try golden("io.input.features"), noise: targetNoise)
            Self.expectMatch(y, try golden(name), "a2m_tiny", name)
        }
    }

    /// The tiny model with its fixture's style prompt, recorded noise and feature rows.
    static func streamingInputs() throws -> (runner: ICSA2MRunner, io: SafeTensorsFile, style: StylePrompt, noise: [Float], features: [Float]) {
        let runner = try load("a2m_tiny")
        let m = runner.model.config.motionDim
        let io = try MotionFixtures.file("a2m_tiny")
        let styleMotion = try io.tensor("io.input.style_motion").floats()
        let style = StylePrompt(motion: styleMotion, features: try io.tensor("io.input.style_features").floats(), frames: styleMotion.count / m)
        return (runner, io, style, try io.tensor("io.input.noise").floats(), try io.tensor("io.input.features").floats())
    }

    /// The streaming stage with the reference's growing windows (no padded context) and the recorded noise
    /// reproduces tools/reference `sample_streaming` (hop 4, look-ahead 2, left context 8), whatever the
    /// chunking of the feature rows.
    @Test func streamingStageMatchesTheReferenceSlidingWindow() throws {
        let (runner, io, style, noise, features) = try Self.streamingInputs()
        let c = runner.model.config, m = c.motionDim, a = c.audioDim
        let styleMotion = style.motion
        let plan = MotionFixtures.streamPlan
        let stage = A2MMotionStage(runner: runner, style: style, sampler: Self.probeSampler,
                                   plan: StreamingPlan(hop: plan["hop"]!, lookahead: plan["lookahead"]!, leftContext: plan["left_context"]!),
                                   seed: 0, silenceRow: [Float](repeating: 0, count: a), paddedContext: false,
                                   noise: MotionNoise(recorded: Array(noise[styleMotion.count...]), dimension: m))
        var frames: [MotionFrame] = []
        var row = 0
        for chunk in [3, 1, 9, 2, 5, 7, 100] where row < features.count / a {
            let end = min(features.count / a, row + chunk)
            frames += try stage.append(FeatureRows(dimension: a, values: Array(features[(row * a)..<(end * a)])))
            row = end
        }
        #expect(frames.count == 12)  // 3 windows of hop 4 before the end of the utterance
        frames += try stage.flush()
        #expect(frames.map(\.index) == Array(0..<16))
        Self.expectMatch(frames.flatMap(\.coefficients), try io.tensor("io.stream").floats(), "a2m_tiny", "io.stream")
    }

    /// The audio context (`stream_context` "audio"): the left context's features and noise rows are sampled
    /// again as target rows and discarded; the stage reproduces the reference's `context="audio"` windows
    /// whatever the chunking, and differs from the motion context (nothing is fed back).
    @Test func audioContextStageMatchesTheReference() throws {
        let (runner, io, style, noise, features) = try Self.streamingInputs()
        let m = runner.model.config.motionDim, a = runner.model.config.audioDim
        let plan = MotionFixtures.streamPlan
        let stage = A2MMotionStage(runner: runner, style: style, sampler: Self.probeSampler,
                                   plan: StreamingPlan(hop: plan["hop"]!, lookahead: plan["lookahead"]!, leftContext: plan["left_context"]!,
                                                       context: .audio),
                                   seed: 0, silenceRow: [Float](repeating: 0, count: a), paddedContext: false,
                                   noise: MotionNoise(recorded: Array(noise[style.motion.count...]), dimension: m))
        var frames: [MotionFrame] = []
        var row = 0
        for chunk in [5, 2, 11, 1, 100] where row < features.count / a {
            let end = min(features.count / a, row + chunk)
            frames += try stage.append(FeatureRows(dimension: a, values: Array(features[(row * a)..<(end * a)])))
            row = end
        }
        frames += try stage.flush()
        #expect(frames.map(\.index) == Array(0..<16))
        let got = frames.flatMap(\.coefficients)
        Self.expectMatch(got, try io.tensor("io.stream_audio").floats(), "a2m_tiny", "io.stream_audio")
        #expect(maxAbsDiff(got, try io.tensor("io.stream").floats()) > 1e-3, "the two context modes differ")
    }

    /// The soft limit of the window's feedback: the first window is the unlimited one through L·tanh(x/L) on
    /// the listed dimensions (the others untouched); later windows see the limited context, and no listed value
    /// ever reaches L.
    @Test func softLimitShapesTheOutputAndTheContext() throws {
        let (runner, io, style, noise, features) = try Self.streamingInputs()
        let c = runner.model.config, m = c.motionDim, a = c.audioDim
        let styleMotion = style.motion
        func run(_ limit: (dims: [Int], value: Float)?) throws -> [[Float]] {
            let stage = A2MMotionStage(runner: runner, style: style, sampler: Self.probeSampler,
                                       plan: StreamingPlan(hop: 4, lookahead: 2, leftContext: 8), seed: 0,
                                       silenceRow: [Float](repeating: 0, count: a), paddedContext: false,
                                       noise: MotionNoise(recorded: Array(noise[styleMotion.count...]), dimension: m), limit: limit)
            return try (stage.append(FeatureRows(dimension: a, values: features)) + stage.flush()).map(\.coefficients)
        }
        let free = try run(nil)
        let spread = free.map { abs($0[0]) }.max()!
        let L = 0.5 * spread
        let limited = try run((dims: [0], value: L))
        #expect(limited.count == free.count && limited.count == 16)
        for f in 0..<4 {
            #expect(abs(limited[f][0] - L * tanh(free[f][0] / L)) < 1e-6)
            #expect(limited[f][1...] == free[f][1...])
        }
        #expect(limited.allSatisfy { abs($0[0]) < L })
        let later = (4..<16).map { f in (0..<m).map { abs(limited[f][$0] - free[f][$0]) }.max()! }.max()!
        print("soft limit L = \(L) (unlimited |x0| ≤ \(spread)); later windows move by up to \(later) through the context")
        #expect(later > 1e-4)
    }

    /// Full window: nothing before flush, then one offline sample of the whole utterance (= `io.sample`).
    @Test func fullWindowStageMatchesTheOfflineSample() throws {
        let (runner, io, style, noise, features) = try Self.streamingInputs()
        let c = runner.model.config, m = c.motionDim, a = c.audioDim
        let styleMotion = style.motion
        let stage = A2MMotionStage(runner: runner, style: style, sampler: Self.probeSampler, plan: StreamingPlan(hop: 4, lookahead: 2, leftContext: 8),
                                   seed: 0, silenceRow: [Float](repeating: 0, count: a), fullWindow: true,
                                   noise: MotionNoise(recorded: Array(noise[styleMotion.count...]), dimension: m))
        #expect(try stage.append(FeatureRows(dimension: a, values: Array(features[0..<(10 * a)]))).isEmpty)
        #expect(try stage.append(FeatureRows(dimension: a, values: Array(features[(10 * a)...]))).isEmpty)
        let frames = try stage.flush()
        #expect(frames.count == 16)
        Self.expectMatch(frames.flatMap(\.coefficients), try io.tensor("io.sample").floats(), "a2m_tiny", "io.sample")
    }

    /// The full-size architecture (256-d, 16 layers, 8 heads × 64, 16 registers, audio 1024) on recipe weights
    /// generated in Swift: time embedding, audio encoder, condition, both velocity branches and a whole sample.
    @Test func fullSizeModelMatchesTheReference() throws {
        let io = try MotionFixtures.file("a2m_full")
        let runner = try Self.load("a2m_full", invFreq: try io.tensor("rotary.inv_freq").floats())
        let model = runner.model, c = model.config
        #expect(c.dim == 256 && c.depth == 16 && c.heads == 8 && c.dimHead == 64 && c.registers == 16 && c.audioDim == 1024)
        // torch's float32 pow and Foundation's powf may differ in the last bit; the test uses the stored values.
        #expect(zip(try io.tensor("rotary.inv_freq").floats(), MotionFixtures.invFreq(dimHead: 64)).allSatisfy { abs($0 - $1) <= 1e-6 * abs($1) })
        let styleFeatures = MotionFixtures.inputRecipe("a2m_full", "input.style_features")
        let features = MotionFixtures.inputRecipe("a2m_full", "input.features")
        let styleMotion = MotionFixtures.inputRecipe("a2m_full", "input.style_motion")
        let noise = MotionFixtures.inputRecipe("a2m_full", "input.noise")
        let tProbe = Float(MotionFixtures.probe["t_probe"] as! Double)
        let temperature = Float(MotionFixtures.probe["temperature"] as! Double)
        Self.expectMatch(model.timeEmbedding(tProbe), try io.tensor("io.time_emb").floats(), "a2m_full", "io.time_emb")

        let (audio, cond) = try runner.condition(features: styleFeatures + features)
        let h = c.audioHidden, rows = audio.count / h
        let head = (0..<rows).flatMap { audio[($0 * h)..<($0 * h + 32)] }
        let rowL2 = (0..<rows).map { r in Float(audio[(r * h)..<((r + 1) * h)].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()) }
        Self.expectMatch(head, try io.tensor("io.audio_emb_head").floats(), "a2m_full", "io.audio_emb_head")
        Self.expectMatch(rowL2, try io.tensor("io.audio_emb_row_l2").floats(), "a2m_full", "io.audio_emb_row_l2")
        Self.expectMatch(cond, try io.tensor("io.cond_emb").floats(), "a2m_full", "io.cond_emb")

        let m = c.motionDim, n = cond.count / m
        let inputs = Self.branchInputs(model: model, cond: cond, styleMotion: styleMotion, noise: noise, temperature: temperature)
        let v = try runner.velocity(inputs: inputs, sequences: 2, rows: n, t: tProbe)
        Self.expectMatch(Array(v[0..<(n * m)]), try io.tensor("io.velocity_cond").floats(), "a2m_full", "io.velocity_cond")
        Self.expectMatch(Array(v[(n * m)...]), try io.tensor("io.velocity_null").floats(), "a2m_full", "io.velocity_null")

        let y = try Self.probeSampler.sample(runner: runner, promptMotion: styleMotion, promptFeatures: styleFeatures,
                                             features: features, noise: Array(noise[styleMotion.count...]))
        Self.expectMatch(y, try io.tensor("io.sample").floats(), "a2m_full", "io.sample")
    }

    /// Aux features are not implemented: the aux fixture's config is refused with a message saying so.
    @Test func auxBundlesAreRefused() throws {
        let config = try MotionFixtures.manifestConfig("a2m_tiny_aux")
        #expect(config["aux"] == .bool(true))
        do {
            _ = try ICSA2MConfig(manifest: config)
            Issue.record("an aux config was accepted")
        } catch let error as MotionModelError {
            #expect(error.message.contains("aux features"))
        }
    }

    /// A misshaped tensor is refused with its name, the expected and the found shape.
    @Test func misshapedTensorsAreNamed() throws {
        let (device, ops) = try MotionGPU.get()
        let config = try ICSA2MConfig(manifest: try MotionFixtures.manifestConfig("a2m_tiny"))
        let url = try MotionFixtures.recipeFile("a2m_tiny", invFreq: MotionFixtures.invFreq(dimHead: config.dimHead),
                                                reshape: ["layers.1.attn.qkv.weight": [48, 17]])
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            _ = try ICSA2MModel(url: url, config: config, device: device, ops: ops)
            Issue.record("a misshaped tensor was accepted")
        } catch let error as MotionModelError {
            #expect(error.message.contains("'layers.1.attn.qkv.weight'"))
            #expect(error.message.contains("[48, 17]") && error.message.contains("[48, 16]"))
        }
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}

extension ICSA2MParityTests {
    /// The Swift recipe rules (A2MBenchmark.recipe) reproduce the fixtures' recipes (tools/reference/a2m.py).
    @Test func swiftRecipeEqualsThePythonRecipe() throws {
        for name in ["a2m_tiny", "a2m_full"] {
            let config = try ICSA2MConfig(manifest: try MotionFixtures.manifestConfig(name))
            let python = (MotionFixtures.model(name)["recipe"] as! [[String: Any]]).map {
                ($0["name"] as! String, $0["shape"] as! [Int], $0["scale"] as! Double, $0["offset"] as! Double)
            }.sorted { $0.0 < $1.0 }
            let swift = A2MBenchmark.recipe(config)
            #expect(swift.count == python.count, "\(name)")
            for (s, p) in zip(swift, python) {
                #expect(s.name == p.0 && s.shape == p.1 && abs(s.scale - p.2) <= 1e-12 * p.2 && s.offset == p.3, "\(name): \(s) vs \(p)")
            }
        }
    }

    /// The benchmark runs the streaming stage on a recipe model and reports per-window results (no timing assertions).
    @Test func benchmarkRunsStreamingWindows() throws {
        let (device, ops) = try MotionGPU.get()
        let config = try ICSA2MConfig(manifest: try MotionFixtures.manifestConfig("a2m_tiny"))
        let r = try A2MBenchmark.streamingWindow(config: config, styleFrames: 8, plan: StreamingPlan(hop: 4, lookahead: 2, leftContext: 5),
                                                 windows: 3, device: device, ops: ops)
        #expect(r.rows == 8 + 5 + 6 && r.runs.count == 3 && r.seconds > 0 && r.realTimeFactor > 0)
        #expect(r.gpuSteps["attn"] != nil && r.gpuSteps["ff"] != nil)
    }
}

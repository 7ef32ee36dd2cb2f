import AvatarBundle
import AvatarFormats
import AvatarModels
import AvatarMotion
import AvatarOperators
import AvatarStages
import AvatarVulkan
import Foundation
import Testing

/// `render --window full` on a HuBERT bundle against upstream's offline path (docs/motion.md §2.4): audio
/// samples → the stages `BundleAvatar.makeStages(fullWindow)` gives a session → motion, compared with the
/// PyTorch reference's upstream-exact path (tools/reference/full_window.py: utterance-mode HuBERT with 40-row
/// chunks, zero rows to a multiple of 8, one full-window sample with the seeded session noise, in float64).
/// Fixture: Tests/Fixtures/motion/full_window.{json,safetensors} (tools/make_motion_fixtures.py); the tiny
/// HuBERT and A2M weights come from the recipes in the JSON. Tolerance as every motion parity test:
/// 10 × the reference's float32 deviation (`f32_error`) + 1e-5 × max |golden|.
@Suite(.serialized) struct FullWindowParityTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/motion")

    struct Fixture {
        let json: [String: Any]
        let io: SafeTensorsFile

        init() throws {
            let data = try Data(contentsOf: FullWindowParityTests.directory.appendingPathComponent("full_window.json"))
            json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
            io = try SafeTensorsFile(url: FullWindowParityTests.directory.appendingPathComponent(json["file"] as! String))
        }

        var fixtureCase: [String: Any] { json["case"] as! [String: Any] }
        var counts: [String: Int] { json["counts"] as! [String: Int] }
        func int(_ key: String) -> Int { fixtureCase[key] as! Int }

        func tolerance(_ output: String) -> (limit: Double, floor: Double) {
            let e = (json["f32_error"] as! [String: [String: Double]])[output]!
            return (10 * e["max_abs"]! + 1e-5 * e["max_abs_golden"]!, e["max_abs"]!)
        }

        func manifestConfig(_ model: String) throws -> [String: JSONValue] {
            let data = try JSONSerialization.data(withJSONObject: (json[model] as! [String: Any])["config"]!)
            return try JSONDecoder().decode([String: JSONValue].self, from: data)
        }

        func addRecipe(_ model: String, to writer: inout SafeTensorsWriter) {
            for entry in (json[model] as! [String: Any])["recipe"] as! [[String: Any]] {
                let shape = entry["shape"] as! [Int]
                writer.add(entry["name"] as! String, shape: shape, floats: RecipeWeights.generate(
                    name: entry["name"] as! String, count: shape.reduce(1, *), scale: entry["scale"] as! Double,
                    offset: entry["offset"] as! Double))
            }
        }

        /// Recipe noise times the per-segment envelope, in float32 (as the tool computes it).
        func wave(_ key: String) -> [Float] {
            let w = json[key] as! [String: Any], env = json["envelope"] as! [String: Any]
            let amplitudes = (env["amplitudes"] as! [Double]).map(Float.init), segment = env["segment_samples"] as! Int
            let n = w["samples"] as! Int
            let x = RecipeWeights.generate(name: w["name"] as! String, count: n, scale: w["scale"] as! Double, offset: 0)
            return x.indices.map { x[$0] * amplitudes[($0 / segment) % amplitudes.count] }
        }

        var styleMotion: [Float] {
            let e = json["style_motion"] as! [String: Any]
            return RecipeWeights.generate(name: e["name"] as! String, count: (e["shape"] as! [Int]).reduce(1, *),
                                          scale: e["scale"] as! Double, offset: e["offset"] as! Double)
        }

        /// A motion-only bundle: tiny HuBERT front-end, tiny ICS-A2M, one style clip.
        func writeBundle(to dir: URL) throws {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            var hubert = SafeTensorsWriter()
            addRecipe("hubert", to: &hubert)
            try hubert.write(to: dir.appendingPathComponent("hubert.safetensors"))
            var a2m = SafeTensorsWriter()
            addRecipe("a2m", to: &a2m)
            let config = json["a2m"] as! [String: Any]
            let dimHead = (config["config"] as! [String: Any])["dim_head"] as! Int
            let invFreq = stride(from: 0, to: dimHead, by: 2).map { 1 / Foundation.powf(50000, Float($0) / Float(dimHead)) }
            a2m.add("rotary.inv_freq", shape: [invFreq.count], floats: invFreq)
            try a2m.write(to: dir.appendingPathComponent("a2m.safetensors"))
            var style = SafeTensorsWriter()
            let styleWave = wave("style_wave")
            style.add("motion", shape: (json["style_motion"] as! [String: Any])["shape"] as! [Int], floats: styleMotion)
            style.add("audio", shape: [styleWave.count], floats: styleWave)
            try style.write(to: dir.appendingPathComponent("style.safetensors"))
            var manifest = BundleManifest(name: "full-window-test", video: .init(width: 64, height: 64, fps: 25))
            manifest.audioFrontend = .init(kind: "hubert", weights: ["hubert.safetensors"], config: try manifestConfig("hubert"))
            manifest.motionModel = .init(kind: "ics_a2m", weights: ["a2m.safetensors"], config: try manifestConfig("a2m"))
            manifest.styles = [.init(name: "clip", file: "style.safetensors", motionTensor: "motion", audioTensor: "audio")]
            manifest.defaultStyle = "clip"
            try JSONEncoder().encode(manifest).write(to: dir.appendingPathComponent("manifest.json"))
        }
    }

    /// Feeds the utterance as a session does (pieces, then the end-of-utterance flushes); returns motion rows.
    static func run(_ stages: SessionStages, _ wave: [Float], piece: Int = 1000) throws -> (rows: FeatureRows, motion: [MotionFrame]) {
        var rows = FeatureRows(dimension: stages.features.dimension)
        var motion: [MotionFrame] = []
        for start in stride(from: 0, to: wave.count, by: piece) {
            let r = try stages.features.append(Array(wave[start..<min(wave.count, start + piece)]))
            rows.append(r)
            if !r.isEmpty { motion += try stages.motion.append(r) }
        }
        let tail = try stages.features.flush()
        rows.append(tail)
        motion += try stages.motion.append(tail)
        motion += try stages.motion.flush()
        return (rows, motion)
    }

    static func relativeL2(_ a: [Float], _ b: [Float]) -> Double {
        let num = zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
        let den = b.reduce(0.0) { $0 + Double($1) * Double($1) }
        return (num / den).squareRoot()
    }

    @Test func fullWindowRenderMatchesUpstreamOfflinePath() throws {
        let fixture = try Fixture()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("full-window-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try fixture.writeBundle(to: dir)
        let bundle = try AvatarBundle(directory: dir, supportedKinds: ModelKind.supported)
        let context = try ComputeContext(requirement: DeviceRequirement(), cacheDirectory: nil)
        let avatar = try AvatarFactory.makeAvatar(bundle, context: context)

        let wave = fixture.wave("wave")
        #expect(Array(wave.prefix(256)) == (try fixture.io.tensor("io.wave_head").floats()), "the test signal differs from the tool's")
        let m = 8, frames = fixture.int("frames")
        #expect(wave.count == 640 * frames)
        // The session's noise is the reference's (seeded MotionNoise, reimplemented in tools/reference/motion_noise.py).
        let noise = MotionNoise(seed: UInt64(fixture.int("seed")), dimension: m)
        let goldenNoise = try fixture.io.tensor("io.noise").floats()
        #expect((0..<(goldenNoise.count / m)).flatMap { noise.row($0) } == goldenNoise)

        let options = SessionStageOptions(style: "clip", seed: UInt64(fixture.int("seed")),
                                          temperature: Float(fixture.fixtureCase["temperature"] as! Double),
                                          steps: fixture.int("steps"), cfgScale: Float(fixture.fixtureCase["cfg_scale"] as! Double),
                                          fullWindow: true)
        let stages = try avatar.makeStages(options: options)
        #expect(stages.features is HuBERTUtteranceStage)
        #expect((stages.motion as? A2MMotionStage)?.padRowsMultiple == 8)
        let (rows, motion) = try Self.run(stages, wave)

        // Features: upstream's rows, then zero rows to the session's count (2 per frame); the motion stage pads
        // on to upstream's multiple of 8.
        let counts = fixture.counts
        let a = rows.dimension, upstreamRows = counts["upstream_rows"]!
        #expect(rows.count == 2 * frames && counts["session_frames"] == frames)
        let goldenFeatures = try fixture.io.tensor("io.features").floats()
        #expect(goldenFeatures.count == counts["padded_rows"]! * a)
        let featureError = maxAbsDiff(Array(rows.values.prefix(upstreamRows * a)), Array(goldenFeatures.prefix(upstreamRows * a)))
        let featureTolerance = fixture.tolerance("io.features")
        print("full window features: max |Δ| \(featureError), limit \(featureTolerance.limit), f32 floor \(featureTolerance.floor)")
        #expect(featureError <= featureTolerance.limit)
        #expect(rows.values[(upstreamRows * a)...].allSatisfy { $0 == 0 })
        #expect(goldenFeatures[(upstreamRows * a)...].allSatisfy { $0 == 0 })

        // Motion: the stage emits the utterance's frames of the T-frame sample; upstream keeps the first T − 4.
        let golden = try fixture.io.tensor("io.motion").floats()
        let sampled = counts["frames"]!, kept = counts["kept"]!
        #expect(golden.count == sampled * m && sampled == counts["padded_rows"]! / 2 && kept == sampled - 4)
        #expect(kept < frames && frames <= sampled)
        #expect(motion.count == frames && motion.map(\.index) == Array(0..<frames))
        let got = motion.flatMap(\.coefficients)
        let want = Array(golden.prefix(frames * m))
        let error = maxAbsDiff(got, want), tolerance = fixture.tolerance("io.motion")
        let relKept = Self.relativeL2(Array(got.prefix(kept * m)), Array(want.prefix(kept * m)))
        print("full window motion (\(frames) frames, upstream keeps \(kept)): max |Δ| \(error), limit \(tolerance.limit), " +
              "f32 floor \(tolerance.floor); relative L2 over upstream's frames \(relKept)")
        #expect(error <= tolerance.limit)

        // The style clip's rows, as upstream prepares them (utterance mode, padded, cut to 2 rows per frame).
        let (device, ops) = (context.device, context.ops)
        let encoder = HuBERTEncoder(weights: try HuBERTWeights(bundle: bundle, component: bundle.manifest.audioFrontend!, device: device), ops: ops)
        let styleFrames = fixture.int("style_frames")
        let styleRows = Array(try encoder.utteranceFeatures(fixture.wave("style_wave")).values.prefix(2 * styleFrames * a))
        let styleError = maxAbsDiff(styleRows, try fixture.io.tensor("io.style_features").floats())
        #expect(styleError <= fixture.tolerance("io.style_features").limit)

        // The streaming front-end (what full-window renders used before) gives rows the model reads very
        // differently: the same full-window sample on them must be far outside the tolerance, so this test
        // fails if a full-window session gets the streaming stage.
        let streaming = try HuBERTFeatureStage(encoder: encoder)
        var streamRows = try streaming.append(wave)
        streamRows.append(try streaming.flush())
        #expect(streamRows.count == 2 * frames)
        let viaStreaming = try avatar.makeStages(options: options)
        let streamMotion = (try viaStreaming.motion.append(streamRows) + viaStreaming.motion.flush()).flatMap(\.coefficients)
        let streamError = maxAbsDiff(streamMotion, want)
        let streamRel = Self.relativeL2(Array(streamMotion.prefix(kept * m)), Array(want.prefix(kept * m)))
        // The previous path: streaming rows and no padding to 8.
        let runner = (stages.motion as! A2MMotionStage).runner
        let style = StylePrompt(motion: fixture.styleMotion, features: styleRows, frames: styleFrames)
        let sampler = A2MSampler(steps: options.steps!, cfgScale: options.cfgScale!, temperature: options.temperature!)
        func fullWindow(_ rows: FeatureRows, pad: Int) throws -> [Float] {
            let stage = A2MMotionStage(runner: runner, style: style, sampler: sampler, plan: StreamingPlan(hop: 4, lookahead: 2, leftContext: 0),
                                       seed: options.seed, silenceRow: [Float](repeating: 0, count: a), fullWindow: true,
                                       padRowsMultiple: pad)
            return (try stage.append(rows) + stage.flush()).flatMap(\.coefficients)
        }
        let previous = try fullWindow(streamRows, pad: 1)
        let previousRel = Self.relativeL2(Array(previous.prefix(kept * m)), Array(want.prefix(kept * m)))
        // Utterance rows without the padding: the zero rows change every frame through attention.
        let unpadded = try fullWindow(rows, pad: 1)
        let unpaddedError = maxAbsDiff(unpadded, want)
        // The same stage with this test's own rows reproduces the avatar's (the hand-built path is the real one).
        #expect(try fullWindow(rows, pad: 8) == got)
        print("streaming front-end: max |Δ| \(streamError), relative L2 \(streamRel); previous path (streaming, no padding): " +
              "relative L2 \(previousRel); utterance rows without padding: max |Δ| \(unpaddedError)")
        #expect(streamError > 100 * tolerance.limit, "the streaming front-end is indistinguishable at this tolerance: \(streamError)")
        #expect(unpaddedError > 10 * tolerance.limit, "the padding to 8 rows is indistinguishable at this tolerance: \(unpaddedError)")
    }
}

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "\(a.count) vs \(b.count)")
    return zip(a, b).map { Double(abs($0 - $1)) }.max() ?? 0
}

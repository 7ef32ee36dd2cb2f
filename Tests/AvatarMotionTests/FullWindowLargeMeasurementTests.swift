import AvatarBundle
import AvatarFormats
import AvatarMotion
import AvatarStages
import Foundation
import Testing

/// Opt-in (AVATARD_MEASURE_FULL_WINDOW=1; minutes on lavapipe): the full-window path at full size —
/// HuBERT-large in utterance mode → zero rows to 8 → the 256-d × 16 ICS-A2M sample, recipe weights — against
/// the float64 upstream-exact reference (Tests/Fixtures/motion/full_window_large.*, written by
/// `python3 -m tools.make_motion_fixtures --full-window-large`), with the same stages a full-window session of a
/// HuBERT bundle gets (`FullWindowParityTests` checks that wiring at tiny size). Also measures the streaming
/// front-end on the same audio. Figures: docs/motion.md §2.4.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["AVATARD_MEASURE_FULL_WINDOW"] == "1"))
struct FullWindowLargeMeasurementTests {
    @Test func fullSizeFullWindowFigures() throws {
        let (device, ops) = try MotionGPU.get()
        let data = try Data(contentsOf: MotionFixtures.directory.appendingPathComponent("full_window_large.json"))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let io = try SafeTensorsFile(url: MotionFixtures.directory.appendingPathComponent(json["file"] as! String))
        let fixtureCase = json["case"] as! [String: Any], counts = json["counts"] as! [String: Int]
        func config(_ model: String) throws -> [String: JSONValue] {
            let d = try JSONSerialization.data(withJSONObject: (json[model] as! [String: Any])["config"]!)
            return try JSONDecoder().decode([String: JSONValue].self, from: d)
        }
        func tolerance(_ output: String) -> (limit: Double, floor: Double) {
            let e = (json["f32_error"] as! [String: [String: Double]])[output]!
            return (10 * e["max_abs"]! + 1e-5 * e["max_abs_golden"]!, e["max_abs"]!)
        }
        func wave(_ key: String) -> [Float] {
            let w = json[key] as! [String: Any], env = json["envelope"] as! [String: Any]
            let amplitudes = (env["amplitudes"] as! [Double]).map(Float.init), segment = env["segment_samples"] as! Int
            let x = RecipeWeights.generate(name: w["name"] as! String, count: w["samples"] as! Int, scale: w["scale"] as! Double, offset: 0)
            return x.indices.map { x[$0] * amplitudes[($0 / segment) % amplitudes.count] }
        }
        func relativeL2(_ a: [Float], _ b: [Float]) -> Double {
            let num = zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
            return (num / b.reduce(0.0) { $0 + Double($1) * Double($1) }).squareRoot()
        }
        let start = Date()
        let hubertConfig = try HuBERTConfig(manifest: try config("hubert"))
        #expect(hubertConfig.chunkFrames == 1000 && hubertConfig.padRowsMultiple == 8)
        let encoder = HuBERTEncoder(weights: try HuBERTWeights(recipeFor: hubertConfig, device: device), ops: ops)
        let runner = try ICSA2MParityTests.load("a2m_full", invFreq: try MotionFixtures.file("a2m_full").tensor("rotary.inv_freq").floats())
        let a = hubertConfig.hiddenSize, m = runner.model.config.motionDim
        print("full-size recipe weights: \(Date().timeIntervalSince(start)) s")

        let styleFrames = fixtureCase["style_frames"] as! Int, frames = fixtureCase["frames"] as! Int
        let styleEntry = json["style_motion"] as! [String: Any]
        let styleMotion = RecipeWeights.generate(name: styleEntry["name"] as! String, count: styleFrames * m,
                                                 scale: styleEntry["scale"] as! Double, offset: styleEntry["offset"] as! Double)
        let styleRows = Array(try encoder.utteranceFeatures(wave("style_wave")).values.prefix(2 * styleFrames * a))
        let style = StylePrompt(motion: styleMotion, features: styleRows, frames: styleFrames)
        let sampler = A2MSampler(steps: fixtureCase["steps"] as! Int, cfgScale: Float(fixtureCase["cfg_scale"] as! Double),
                                 temperature: Float(fixtureCase["temperature"] as! Double))
        func rows(_ features: any AudioFeatureStage) throws -> FeatureRows {
            var rows = try features.append(wave("wave"))
            rows.append(try features.flush())
            return rows
        }
        func motion(_ rows: FeatureRows, pad: Int) throws -> [Float] {
            let stage = A2MMotionStage(runner: runner, style: style, sampler: sampler, plan: StreamingPlan(hop: 4, lookahead: 2, leftContext: 0),
                                       seed: UInt64(fixtureCase["seed"] as! Int), silenceRow: [Float](repeating: 0, count: a),
                                       fullWindow: true, padRowsMultiple: pad)
            return (try stage.append(rows) + stage.flush()).flatMap(\.coefficients)
        }
        let t0 = Date()
        let utterance = try rows(HuBERTUtteranceStage(encoder: encoder))
        let got = try motion(utterance, pad: 8)
        print("full-size full window: \(Date().timeIntervalSince(t0)) s for \(frames) frames")
        let golden = try io.tensor("io.motion").floats(), kept = counts["kept"]!
        let want = Array(golden.prefix(frames * m))
        #expect(got.count == frames * m)
        let upstreamRows = counts["upstream_rows"]!
        let head = (0..<upstreamRows).flatMap { utterance.values[($0 * a)..<($0 * a + 64)] }
        let featureError = maxAbsDiff(head, Array(try io.tensor("io.features_head").floats().prefix(upstreamRows * 64)))
        let motionError = maxAbsDiff(got, want), motionTolerance = tolerance("io.motion")
        print("full-size features (head columns): max |Δ| \(featureError), limit \(tolerance("io.features_head").limit), f32 floor \(tolerance("io.features_head").floor)")
        print("full-size motion: max |Δ| \(motionError), limit \(motionTolerance.limit), f32 floor \(motionTolerance.floor); " +
              "relative L2 over upstream's \(kept) frames \(relativeL2(Array(got.prefix(kept * m)), Array(want.prefix(kept * m))))")
        #expect(featureError <= tolerance("io.features_head").limit)
        #expect(motionError <= motionTolerance.limit)

        let t1 = Date()
        let streamRows = try rows(try HuBERTFeatureStage(encoder: encoder))
        let streamed = try motion(streamRows, pad: 8), previous = try motion(streamRows, pad: 1)
        print("full-size streaming front-end (\(Date().timeIntervalSince(t1)) s): relative L2 padded \(relativeL2(Array(streamed.prefix(kept * m)), Array(want.prefix(kept * m)))), " +
              "previous path (no padding) \(relativeL2(Array(previous.prefix(kept * m)), Array(want.prefix(kept * m))))")
    }
}

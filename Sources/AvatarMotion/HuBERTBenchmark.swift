public import AvatarGraph
public import AvatarOperators
public import AvatarVulkan
import Foundation

/// Timing of one streaming HuBERT window for `avatard bench motion` (no trained weights needed: the
/// full-size model is rebuilt from the deterministic recipe of docs/motion.md §5).
public enum HuBERTBenchmark {
    /// What one measurement saw.
    public struct Result: Sendable {
        /// Rows (and samples) of the window the encoder ran on.
        public var rows: Int
        public var samples: Int
        /// Wall-clock seconds of one window (input upload, GPU run, output read-back): the median over the runs.
        public var seconds: Double
        /// Every run's seconds, in order.
        public var runs: [Double]
        /// Seconds spent building the recipe weights and the plan (not part of `seconds`).
        public var setupSeconds: Double
        /// Audio seconds advanced per window (the hop) divided by `seconds`: above 1 keeps up with real time.
        public var realTimeFactor: Double
        /// The last run's features (to compare fp16 with fp32 activations on the same window).
        public var features: [Float]
        /// Bytes of the window's activation arena (temporaries with reuse).
        public var arenaBytes: Int
    }

    /// Builds `config` (default HuBERT-large) from recipe weights and times `repeats` streaming windows of
    /// `window.rows` rows after one warm-up run. Call on the thread that owns the device's work (a render thread).
    public static func streamingWindow(config: HuBERTConfig = HuBERTConfig(), window: HuBERTFeatureStage.Window = .standard,
                                       device: VulkanDevice, ops: Operators, repeats: Int = 3,
                                       activations: GraphElementType = .float32) throws -> Result {
        let started = Date()
        let encoder = HuBERTEncoder(weights: try HuBERTWeights(recipeFor: config, device: device), ops: ops, activations: activations)
        let setup = Date().timeIntervalSince(started)
        var result = try streamingWindow(encoder: encoder, window: window, repeats: repeats)
        result.setupSeconds += setup
        return result
    }

    /// Times an existing encoder (e.g. a bundle's) on one window of recipe-generated audio.
    public static func streamingWindow(encoder: HuBERTEncoder, window: HuBERTFeatureStage.Window = .standard,
                                       repeats: Int = 3) throws -> Result {
        guard repeats > 0 else { throw MotionModelError("hubert", "benchmark needs at least one run, got \(repeats)") }
        let c = encoder.config
        let samples = c.samples(rows: window.rows)
        let wave = RecipeWeights.generate(name: "bench.hubert.wave", count: samples, scale: 0.5)
        let input = HuBERTEncoder.normalize(wave, eps: c.normalizeEps)
        let planStart = Date()
        _ = try encoder.encode(normalized: input)  // plans and warms up
        let setup = Date().timeIntervalSince(planStart)
        var runs: [Double] = []
        var features: [Float] = []
        for _ in 0..<repeats {
            let t = Date()
            features = try encoder.encode(normalized: input)
            runs.append(Date().timeIntervalSince(t))
        }
        let median = runs.sorted()[runs.count / 2]
        let hopSeconds = Double(window.hop) / Double(c.rowsPerSecond)
        return Result(rows: window.rows, samples: samples, seconds: median, runs: runs, setupSeconds: setup,
                      realTimeFactor: hopSeconds / median, features: features,
                      arenaBytes: try encoder.plan(samples: samples, trace: false).planBytes)
    }
}

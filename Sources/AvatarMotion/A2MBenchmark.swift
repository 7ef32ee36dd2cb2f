public import AvatarGraph
public import AvatarOperators
public import AvatarVulkan
import AvatarFormats
import AvatarStages
import Foundation

/// Timing of the ICS-A2M streaming window (for `avatard bench motion` and docs/performance.md): a model of any
/// configuration from the deterministic recipe (docs/motion.md §5; timing does not depend on weight values),
/// a style prompt and the streaming stage, timed window by window. Run it on the thread that owns the GPU
/// work (the render thread): the windows run synchronously.
public enum A2MBenchmark {
    public struct Result: Sendable {
        /// Sequence rows of one window (style + left context + hop + look-ahead).
        public var rows: Int
        /// Median wall time of one window (hop frames emitted), and every run.
        public var seconds: Double
        public var runs: [Double]
        /// GPU seconds per velocity evaluation by step kind (timestamps of the last evaluation).
        public var gpuSteps: [String: Double]
        /// Recipe weights, upload and the first window (planning included).
        public var setupSeconds: Double
        /// Audio time of one hop divided by `seconds` (> 1: faster than real time).
        public var realTimeFactor: Double
        /// Motion coefficients of every timed window's frames (same seed and inputs for every run of a config).
        public var coefficients: [Float]
        /// Bytes of the activation arenas of the networks planned for the window (condition and velocity).
        public var arenaBytes: Int
    }

    /// The recipe of every bundle tensor of `config` but `rotary.inv_freq` (tools/reference/a2m.py `recipe`).
    public static func recipe(_ config: ICSA2MConfig) -> [(name: String, shape: [Int], scale: Double, offset: Double)] {
        config.tensorShapes.filter { $0.key != "rotary.inv_freq" }.sorted { $0.key < $1.key }.map { name, shape in
            if name.hasSuffix("gamma.bias") || name == "final_norm.gamma" { return (name, shape, 0.2, 1.0) }
            if name.hasSuffix("q_norm") || name.hasSuffix("k_norm") { return (name, shape, 0.02, 0.15) }
            if name.hasSuffix("gamma.weight") || name.hasSuffix("beta.weight") { return (name, shape, RecipeWeights.fanInScale(shape, gain: 0.1), 0) }
            if name.hasSuffix(".bias") || name == "null_cond" { return (name, shape, 0.1, 0) }
            if name == "registers" || name == "time.freqs" { return (name, shape, 1.0, 0) }
            return (name, shape, RecipeWeights.fanInScale(shape), 0)
        }
    }

    /// A model of `config` with recipe weights and upstream's inv_freq (θ = 50000), through a temporary file.
    public static func recipeModel(config: ICSA2MConfig, device: VulkanDevice, ops: Operators) throws -> ICSA2MModel {
        var writer = SafeTensorsWriter()
        for entry in recipe(config) {
            writer.add(entry.name, shape: entry.shape, floats: RecipeWeights.generate(name: entry.name, count: entry.shape.reduce(1, *),
                                                                                    scale: entry.scale, offset: entry.offset))
        }
        let inv = stride(from: 0, to: config.dimHead, by: 2).map { Float(1 / pow(50000, Double($0) / Double(config.dimHead))) }
        writer.add("rotary.inv_freq", shape: [inv.count], floats: inv)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("avatard-a2m-recipe-\(UUID().uuidString).safetensors")
        try writer.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try ICSA2MModel(url: url, config: config, device: device, ops: ops)
    }

    /// Times `windows` streaming windows after a first (planning) one, with a recipe style clip of
    /// `styleFrames` frames and recipe features (values do not change the work).
    public static func streamingWindow(config: ICSA2MConfig, styleFrames: Int = 50, plan: StreamingPlan? = nil,
                                       windows: Int = 8, device: VulkanDevice, ops: Operators,
                                       activations: GraphElementType = .float32) throws -> Result {
        let start = Date()
        let model = try recipeModel(config: config, device: device, ops: ops)
        let c = model.config, m = c.motionDim, a = c.audioDim
        let plan = plan ?? c.streamingPlan
        let style = StylePrompt(motion: RecipeWeights.generate(name: "bench.style_motion", count: styleFrames * m, scale: 1),
                                features: RecipeWeights.generate(name: "bench.style_features", count: 2 * styleFrames * a, scale: 1),
                                frames: styleFrames)
        let runner = ICSA2MRunner(model: model, timestamps: true, activations: activations)
        let stage = A2MMotionStage(runner: runner, style: style, sampler: A2MSampler(config: c, options: SessionStageOptions()),
                                   plan: plan, seed: 1, silenceRow: [Float](repeating: 0, count: a))
        let hopRows = 2 * plan.hop * a
        let features = RecipeWeights.generate(name: "bench.features", count: 2 * (plan.hop + plan.lookahead) * a + windows * hopRows, scale: 1)
        // The first window plans the networks.
        _ = try stage.append(FeatureRows(dimension: a, values: Array(features[0..<(2 * (plan.hop + plan.lookahead) * a)])))
        let setup = Date().timeIntervalSince(start)
        var runs: [Double] = []
        var coefficients: [Float] = []
        var at = 2 * (plan.hop + plan.lookahead) * a
        for _ in 0..<max(1, windows) where at + hopRows <= features.count {
            let t = Date()
            let frames = try stage.append(FeatureRows(dimension: a, values: Array(features[at..<(at + hopRows)])))
            runs.append(Date().timeIntervalSince(t))
            coefficients += frames.flatMap(\.coefficients)
            at += hopRows
        }
        let median = runs.sorted()[runs.count / 2]
        return Result(rows: styleFrames + plan.leftContext + plan.hop + plan.lookahead, seconds: median, runs: runs,
                      gpuSteps: runner.velocityStepSeconds(), setupSeconds: setup,
                      realTimeFactor: Double(plan.hop) / 25 / median, coefficients: coefficients, arenaBytes: runner.arenaBytes)
    }
}

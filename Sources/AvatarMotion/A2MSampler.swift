public import AvatarStages

/// The flow-matching sampler of ICS-A2M (docs/motion.md §2.1): midpoint steps on the grid t_i = i/(steps−1)
/// from noise (t = 0) to motion (t = 1), classifier-free guidance on the in-context prompt, temperature on the
/// initial noise (optionally scaled per motion dimension). The ODE state lives on the host (N × motion_dim
/// floats); each velocity is one replay of the runner's network, with the conditional and null-prompt branches
/// stacked as a batch of 2.
/// Noise is injected as rows (`noise:`) or drawn from a seeded `MotionNoise` (target frame f gets row f).
public struct A2MSampler: Sendable, Equatable {
    public var steps: Int
    public var cfgScale: Float
    public var temperature: Float
    /// Factor on `temperature` per motion dimension (ICSA2MConfig.temperatureScale); empty: 1 everywhere.
    public var temperatureScale: [Float]

    public init(steps: Int, cfgScale: Float, temperature: Float, temperatureScale: [Float] = []) {
        self.steps = steps
        self.cfgScale = cfgScale
        self.temperature = temperature
        self.temperatureScale = temperatureScale
    }

    /// A session's sampler: `options` over the model's defaults; the per-dimension scale always comes from the
    /// model (an overridden temperature scales every dimension alike).
    public init(config c: ICSA2MConfig, options: SessionStageOptions) {
        self.init(steps: options.steps ?? c.steps, cfgScale: options.cfgScale ?? c.cfgScale,
                  temperature: options.temperature ?? c.temperature, temperatureScale: c.temperatureScale)
    }

    /// The ODE grid: float32(i / (steps − 1)).
    public static func grid(_ steps: Int) -> [Float] {
        (0..<steps).map { Float(Double($0) / Double(steps - 1)) }
    }

    /// As below, with the target rows' noise drawn from `source` (frames 0..<T).
    public func sample(runner: ICSA2MRunner, promptMotion: [Float], promptFeatures: [Float], features: [Float],
                       source: MotionNoise) throws -> [Float] {
        let frames = features.count / max(1, 2 * runner.model.config.audioDim)
        return try sample(runner: runner, promptMotion: promptMotion, promptFeatures: promptFeatures, features: features,
                          noise: (0..<frames).flatMap { source.row($0) })
    }

    /// Samples target motion [T, M] for target features [2T, A] after an optional prompt (motion [P, M] with
    /// its features [2P, A]). `noise` holds the N(0,1) rows of the targets [T, M] (prompt rows need none).
    public func sample(runner: ICSA2MRunner, promptMotion: [Float], promptFeatures: [Float], features: [Float],
                       noise: [Float]) throws -> [Float] {
        let c = runner.model.config
        let m = c.motionDim
        guard steps >= 2 else { throw MotionModelError("ics_a2m", "steps must be ≥ 2 grid points, got \(steps)") }
        let p = promptMotion.count / m, t = features.count / (2 * c.audioDim)
        guard promptFeatures.count == 2 * p * c.audioDim, features.count == 2 * t * c.audioDim, noise.count == t * m, t > 0 else {
            throw MotionModelError("ics_a2m", "sampler inputs do not line up: prompt \(p) frames, targets \(t) frames, \(noise.count / max(m, 1)) noise rows")
        }
        let n = p + t
        let (_, condEmb) = try runner.condition(features: promptFeatures + features)
        let guided = cfgScale != 1
        let sequences = guided ? 2 : 1
        // Fixed parts of the inputs [x·mask ‖ cond_emb ‖ prompt]: the prompt motion on prompt rows, 0 on targets;
        // the null branch has null_cond on every row.
        var inputs = [Float](repeating: 0, count: sequences * n * 3 * m)
        let null = runner.model.nullCondValues
        for s in 0..<sequences {
            for r in 0..<n {
                let base = (s * n + r) * 3 * m
                for j in 0..<m {
                    inputs[base + m + j] = condEmb[r * m + j]
                    if s == 1 {
                        inputs[base + 2 * m + j] = null[j]
                    } else if r < p {
                        inputs[base + 2 * m + j] = promptMotion[r * m + j]
                    }
                }
            }
        }
        func velocity(_ y: [Float], _ time: Float) throws -> [Float] {
            for s in 0..<sequences {
                for r in p..<n {
                    let base = (s * n + r) * 3 * m
                    for j in 0..<m { inputs[base + j] = y[(r - p) * m + j] }
                }
            }
            let v = try runner.velocity(inputs: inputs, sequences: sequences, rows: n, t: time)
            var out = [Float](repeating: 0, count: t * m)
            for r in 0..<t {
                for j in 0..<m {
                    let cond = v[(p + r) * m + j]
                    out[r * m + j] = guided ? { let u = v[(n + p + r) * m + j]; return u + (cond - u) * cfgScale }() : cond
                }
            }
            return out
        }
        let scale = temperatureScale.count == m ? temperatureScale : [Float](repeating: 1, count: m)
        var y = noise.indices.map { noise[$0] * (temperature * scale[$0 % m]) }
        let grid = Self.grid(steps)
        for i in 0..<(steps - 1) {
            let t0 = grid[i], t1 = grid[i + 1]
            let dt = t1 - t0, half = Float(0.5) * dt
            let v0 = try velocity(y, t0)
            let mid = zip(y, v0).map { $0 + $1 * half }
            let vm = try velocity(mid, t0 + half)
            for k in y.indices { y[k] = y[k] + dt * vm[k] }
        }
        return y
    }
}

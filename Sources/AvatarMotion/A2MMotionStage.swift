public import AvatarStages
import Foundation

/// ICS-A2M as a session's `MotionStage`: 50 Hz feature rows in, 25 fps motion frames out.
///
/// Usage (docs/motion.md describes the model and the streaming scheme):
/// ```
/// let frontEnd = LogMelFrontEnd(config: try LogMelConfig(manifest: bundle.manifest.audioFrontend?.config))
/// let model = try ICSA2MModel(bundle: bundle, device: device, ops: ops)        // once per avatar, shared
/// let style = try StylePrompt(bundle: bundle, style: "calm", model: model, frontEnd: frontEnd)
/// let stage = A2MMotionStage(model: model, style: style, options: options, silenceRow: frontEnd.silenceRow)
/// let frames = try stage.append(featureRows)   // on the session's render thread; GPU work runs synchronously
/// ```
///
/// Streaming (default): a sliding window (docs/motion.md §2.2). Each window's prompt is the style clip, then
/// the last `leftContext` emitted frames with their feature rows; its targets are the `hop + lookahead`
/// frames whose audio has arrived; it emits `hop` frames. With `plan.context == .audio` the context frames
/// are target rows instead (their features and noise rows, sampled again and discarded), so the prompt is the
/// style clip alone and no output is fed back. Frame f's noise row is the same in every window
/// (`MotionNoise`, counter-based on the session seed). With `paddedContext` (the daemon's choice) the left
/// context starts out as silence features with zero (neutral) motion and zero noise, so every window has the
/// same length and one planned network serves the whole session; without it the windows grow as the
/// reference sampler's do (parity tests).
///
/// Full window (`SessionStageOptions.fullWindow`): rows are collected and one sample over the whole
/// utterance (style prompt only, no carried context) is drawn at `flush`, as upstream runs offline. With
/// `padRowsMultiple` (8 for HuBERT bundles, upstream's `get_hubert`) zero rows are appended up to that
/// multiple and the sample covers them, as upstream's does; the frames of the utterance's own rows are
/// emitted (the session needs one frame per 40 ms). Upstream drops the last 4 sampled frames after sampling
/// (its video and, with `-shortest`, its audio end there), so the first T − 4 frames are upstream's output
/// and the 1–4 frames after them are frames upstream samples and discards (docs/motion.md §2.4).
///
/// Silence in gives the model's idle motion (the session feeds digital silence on underruns), so the face
/// is never frozen. `interrupt(lastRendered:)` drops pending rows, restarts the context from silence and
/// cross-fades the next `interruptFadeFrames` (5 = 200 ms) frames from the pose on screen (the session's last
/// rendered frame; the last emitted one when not given) into the model's output (a raised-cosine weight
/// reaching 1 on the 5th frame).
public final class A2MMotionStage: MotionStage {
    public let runner: ICSA2MRunner
    public let sampler: A2MSampler
    public let plan: StreamingPlan
    public let fullWindow: Bool
    public let paddedContext: Bool
    /// Full window only: the sampled rows are zero-padded to a multiple of this (1 = no padding).
    public let padRowsMultiple: Int
    public static let interruptFadeFrames = 5
    private let style: StylePrompt
    private let noise: MotionNoise
    private let silenceRow: [Float]
    private let m: Int, a: Int

    /// Feature rows of frames not emitted yet (row-major, audio_dim wide).
    private var pendingRows: [Float] = []
    /// Emitted frames kept as left context: their feature rows (2 per frame) and one motion_dim row each, which is
    /// what the window reads of them: the emitted motion (motion context) or the noise row (audio context). Both
    /// are zero for the silence a padded context starts with.
    private var contextRows: [Float] = []
    private var contextFrames: [Float] = []
    /// Frames emitted since the session started (the noise row index of the next frame).
    private var emitted = 0
    private var lastEmitted: [Float]?
    private var fadeFrom: [Float]?
    private var fadeStep = 0
    /// ICSA2MConfig.streamLimitDims / streamLimit: with the motion context the window continues the context it is
    /// given, so a context outside what the model was trained on can run away (the demo's head yaw did, without a
    /// limit); with the audio context nothing is fed back and the limit only bounds the output.
    private let limitDims: [Int]
    private let limit: Float

    /// The session stage from the avatar's shared model: sampler settings from `options` over the bundle's
    /// defaults, the streaming plan from the bundle config (or `plan`), noise from `options.seed`.
    public convenience init(model: ICSA2MModel, style: StylePrompt, options: SessionStageOptions, silenceRow: [Float],
                            plan: StreamingPlan? = nil, padRowsMultiple: Int = 1) {
        let c = model.config
        self.init(runner: ICSA2MRunner(model: model), style: style, sampler: A2MSampler(config: c, options: options),
                  plan: plan ?? c.streamingPlan,
                  seed: options.seed, silenceRow: silenceRow, fullWindow: options.fullWindow, padRowsMultiple: padRowsMultiple)
    }

    /// `noise` replaces the seeded source (tests replaying a recorded draw); `limit` replaces the config's
    /// soft limit (`streamLimitDims`, `streamLimit`).
    public init(runner: ICSA2MRunner, style: StylePrompt, sampler: A2MSampler, plan: StreamingPlan, seed: UInt64,
                silenceRow: [Float], fullWindow: Bool = false, paddedContext: Bool = true, padRowsMultiple: Int = 1,
                noise: MotionNoise? = nil, limit: (dims: [Int], value: Float)? = nil) {
        self.runner = runner
        self.style = style
        self.sampler = sampler
        self.plan = StreamingPlan(hop: max(1, plan.hop), lookahead: max(0, plan.lookahead), leftContext: max(0, plan.leftContext),
                                  context: plan.context)
        self.fullWindow = fullWindow
        self.paddedContext = paddedContext
        self.padRowsMultiple = max(1, padRowsMultiple)
        let c = runner.model.config
        self.m = c.motionDim
        self.a = c.audioDim
        self.noise = noise ?? MotionNoise(seed: seed, dimension: c.motionDim)
        self.silenceRow = silenceRow.count == c.audioDim ? silenceRow : [Float](repeating: 0, count: c.audioDim)
        var seen = Set<Int>()
        self.limitDims = (limit?.dims ?? c.streamLimitDims).filter { $0 >= 0 && $0 < c.motionDim && seen.insert($0).inserted }
        self.limit = max(0, limit?.value ?? c.streamLimit)
        resetContext()
    }

    public var dimension: Int { m }

    public func append(_ features: FeatureRows) throws -> [MotionFrame] {
        guard features.dimension == a else {
            throw MotionModelError("ics_a2m", "feature rows are \(features.dimension) wide, the model expects \(a)")
        }
        guard features.values.allSatisfy(\.isFinite) else {
            throw MotionModelError("ics_a2m", "feature rows contain NaN or Inf")
        }
        pendingRows += features.values
        if fullWindow { return [] }
        var out: [MotionFrame] = []
        let window = plan.hop + plan.lookahead
        while pendingRows.count / (2 * a) >= window {
            out += try runWindow(frames: window, emit: plan.hop)
        }
        return out
    }

    public func flush() throws -> [MotionFrame] {
        var out: [MotionFrame] = []
        if fullWindow && (pendingRows.count / a) % 2 == 1 {
            // An utterance of an odd number of rows (`render --window full` hands the stages the file's own samples,
            // not a whole number of frames) ends in a frame that half covers it: its second row is the first of
            // the rows the sample pads with (upstream's zero rows), so the session still gets a frame per 40 ms.
            pendingRows += padRowsMultiple > 1 ? [Float](repeating: 0, count: a) : silenceRow
        }
        // Whole frames only (2 rows each); in streaming a trailing odd row is dropped.
        let frames = pendingRows.count / (2 * a)
        pendingRows.removeLast(pendingRows.count - frames * 2 * a)
        if fullWindow {
            if frames > 0 {
                // Upstream's zero rows: the sample covers them, only the utterance's own frames are emitted.
                var sampled = frames
                while (2 * sampled) % padRowsMultiple != 0 { sampled += 1 }
                pendingRows += [Float](repeating: 0, count: (sampled - frames) * 2 * a)
                out += try runWindow(frames: sampled, emit: frames)
            }
        } else {
            let window = plan.hop + plan.lookahead
            while pendingRows.count / (2 * a) > 0 {
                let available = pendingRows.count / (2 * a)
                if paddedContext && available < window {
                    // Pad with silence to the planned window length (no new plan), emit only the real frames.
                    pendingRows += repeatedSilence(rows: 2 * (window - available))
                    out += try runWindow(frames: window, emit: available)
                    pendingRows.removeAll()
                } else {
                    out += try runWindow(frames: min(window, available), emit: min(plan.hop, available))
                }
            }
        }
        pendingRows.removeAll()
        return out
    }

    public func interrupt(lastRendered: MotionFrame?) {
        pendingRows.removeAll()
        resetContext()
        if let last = lastRendered?.coefficients ?? lastEmitted {
            fadeFrom = last
            fadeStep = 0
        }
    }

    // MARK: windows

    private func resetContext() {
        contextRows = []
        contextFrames = []
        if paddedContext && !fullWindow && plan.leftContext > 0 {
            contextRows = repeatedSilence(rows: 2 * plan.leftContext)
            contextFrames = [Float](repeating: 0, count: plan.leftContext * m)
        }
    }

    private func repeatedSilence(rows: Int) -> [Float] {
        var out = [Float]()
        out.reserveCapacity(rows * a)
        for _ in 0..<rows { out += silenceRow }
        return out
    }

    /// Samples `frames` target frames from the front of the pending rows and emits the first `emit`.
    private func runWindow(frames: Int, emit: Int) throws -> [MotionFrame] {
        let rows = Array(pendingRows[0..<(frames * 2 * a)])
        var noiseRows: [Float] = []
        noiseRows.reserveCapacity(frames * m)
        for f in 0..<frames { noiseRows += noise.row(emitted + f) }
        let y: [Float]
        if fullWindow {
            y = try sampler.sample(runner: runner, promptMotion: style.motion, promptFeatures: style.features,
                                   features: rows, noise: noiseRows)
        } else if plan.context == .audio {
            let sampled = try sampler.sample(runner: runner, promptMotion: style.motion, promptFeatures: style.features,
                                             features: contextRows + rows, noise: contextFrames + noiseRows)
            y = Array(sampled[contextFrames.count...])
        } else {
            y = try sampler.sample(runner: runner, promptMotion: style.motion + contextFrames,
                                   promptFeatures: style.features + contextRows, features: rows, noise: noiseRows)
        }
        var out: [MotionFrame] = []
        out.reserveCapacity(emit)
        for f in 0..<emit {
            var coefficients = Array(y[(f * m)..<((f + 1) * m)])
            if limit > 0 && !fullWindow {  // the full window has no feedback to limit (and stays upstream's sample)
                for d in limitDims { coefficients[d] = limit * tanh(coefficients[d] / limit) }
            }
            if !fullWindow {
                contextRows += rows[(f * 2 * a)..<((f + 1) * 2 * a)]
                contextFrames += plan.context == .audio ? noiseRows[(f * m)..<((f + 1) * m)] : coefficients[...]
            }
            if let from = fadeFrom {
                coefficients = Self.blend(from: from, to: coefficients, step: fadeStep)
                fadeStep += 1
                if fadeStep >= Self.interruptFadeFrames { fadeFrom = nil }
            }
            lastEmitted = coefficients
            out.append(MotionFrame(index: emitted, coefficients: coefficients))
            emitted += 1
        }
        pendingRows.removeFirst(emit * 2 * a)
        let keep = plan.leftContext
        if contextFrames.count > keep * m {
            contextFrames.removeFirst(contextFrames.count - keep * m)
            contextRows.removeFirst(contextRows.count - keep * 2 * a)
        }
        return out
    }

    /// Frame `step` (0-based) after an interrupt: from + (to − from)·w, w = ½ − ½·cos(π·(step + 1)/5), which is
    /// 1 from the 5th frame on (the model's own output).
    static func blend(from: [Float], to: [Float], step: Int) -> [Float] {
        let x = Double(min(step + 1, interruptFadeFrames)) / Double(interruptFadeFrames)
        guard x < 1 else { return to }
        let w = Float(0.5 - 0.5 * cos(Double.pi * x))
        return zip(from, to).map { $0 + ($1 - $0) * w }
    }
}

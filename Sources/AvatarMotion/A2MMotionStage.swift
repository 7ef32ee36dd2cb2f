public import AvatarStages

/// ICS-A2M as a session's `MotionStage`.
///
/// Streaming (default): a sliding window (docs/motion.md §2.2). Each window's prompt is the style clip, then
/// the last `leftContext` emitted frames with their feature rows; its targets are `hop + lookahead` frames
/// whose audio has arrived; it emits `hop` frames. Frame f's noise row is the same in every window. With
/// `paddedContext` (the daemon's choice) the left context starts out as silence features with the neutral
/// motion, so every window has the same length and one planned network serves the whole session; without
/// it the windows grow as the reference sampler's do (parity tests).
///
/// Full window (`--window full`): features are collected and one sample over the whole utterance is drawn at
/// `flush`, exactly as upstream runs offline.
///
/// Interrupt: pending audio is dropped, the context restarts from silence, and the next 5 frames (200 ms at
/// 25 fps) cross-fade from the last emitted frame into the model's output, which on silence is the idle,
/// closed-mouth face.
public final class A2MMotionStage: MotionStage {
    public let runner: ICSA2MRunner
    public let sampler: A2MSampler
    public let plan: StreamingPlan
    public let fullWindow: Bool
    public let paddedContext: Bool
    private let style: StylePrompt
    private let noise: MotionNoise
    private let silenceRow: [Float]
    private let m: Int, a: Int

    /// Feature rows not yet part of an emitted frame's window start (row-major, audio_dim wide).
    private var pendingRows: [Float] = []
    /// Emitted frames kept as context: motion and feature rows (2 per frame).
    private var contextMotion: [Float] = []
    private var contextRows: [Float] = []
    /// Frames emitted since the start (noise row index).
    private var emitted = 0
    private var fadeFrom: [Float]?
    private var fadeStep = 0
    public static let interruptFadeFrames = 5

    public init(runner: ICSA2MRunner, style: StylePrompt, sampler: A2MSampler, plan: StreamingPlan, seed: UInt64,
                silenceRow: [Float], fullWindow: Bool = false, paddedContext: Bool = true) {
        self.runner = runner
        self.style = style
        self.sampler = sampler
        self.plan = plan
        self.fullWindow = fullWindow
        self.paddedContext = paddedContext
        let c = runner.model.config
        self.m = c.motionDim
        self.a = c.audioDim
        self.noise = MotionNoise(seed: seed, dimension: c.motionDim)
        self.silenceRow = silenceRow
        resetContext()
    }

    public var dimension: Int { m }

    private func resetContext() {
        contextMotion = []
        contextRows = []
        if paddedContext && !fullWindow && plan.leftContext > 0 {
            contextMotion = [Float](repeating: 0, count: plan.leftContext * m)
            contextRows = Array([[Float]](repeating: silenceRow, count: 2 * plan.leftContext).joined())
        }
    }

    public func append(_ features: FeatureRows) throws -> [MotionFrame] {
        guard features.dimension == a else {
            throw MotionModelError("ics_a2m", "feature rows are \(features.dimension) wide, the model expects \(a)")
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
        // Whole frames only (2 rows each); a trailing odd row is dropped.
        let frames = pendingRows.count / (2 * a)
        pendingRows.removeLast(pendingRows.count - frames * 2 * a)
        if fullWindow {
            if frames > 0 { out += try runWindow(frames: frames, emit: frames) }
        } else {
            while pendingRows.count / (2 * a) > 0 {
                let available = pendingRows.count / (2 * a)
                let window = plan.hop + plan.lookahead
                if paddedContext && available < window {
                    // Pad with silence to the planned window length, emit only the real frames.
                    pendingRows += Array([[Float]](repeating: silenceRow, count: 2 * (window - available)).joined())
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

    public func interrupt() {
        pendingRows.removeAll()
        resetContext()
        if let last = lastEmitted { fadeFrom = last }
        fadeStep = 0
    }

    private var lastEmitted: [Float]?

    /// Samples `frames` target frames from the front of the pending rows, emits the first `emit` of them.
    private func runWindow(frames: Int, emit: Int) throws -> [MotionFrame] {
        let rows = Array(pendingRows[0..<(frames * 2 * a)])
        var noiseRows: [Float] = []
        noiseRows.reserveCapacity(frames * m)
        for f in 0..<frames { noiseRows += noise.row(emitted + f) }
        let y = try sampler.sample(runner: runner, promptMotion: style.motion + contextMotion,
                                   promptFeatures: style.features + contextRows, features: rows, noise: noiseRows)
        var out: [MotionFrame] = []
        for f in 0..<emit {
            var coefficients = Array(y[(f * m)..<((f + 1) * m)])
            contextMotion += coefficients
            contextRows += rows[(f * 2 * a)..<((f + 1) * 2 * a)]
            if let from = fadeFrom {
                // Cross-fade after an interrupt: weight of the model's output rises to 1 over 5 frames.
                let w = Float(fadeStep + 1) / Float(Self.interruptFadeFrames)
                coefficients = zip(from, coefficients).map { $0 + ($1 - $0) * w }
                fadeStep += 1
                if fadeStep >= Self.interruptFadeFrames { fadeFrom = nil }
            }
            lastEmitted = coefficients
            out.append(MotionFrame(index: emitted, coefficients: coefficients))
            emitted += 1
        }
        pendingRows.removeFirst(emit * 2 * a)
        let keep = plan.leftContext
        if contextMotion.count > keep * m {
            contextMotion.removeFirst(contextMotion.count - keep * m)
            contextRows.removeFirst(contextRows.count - keep * 2 * a)
        }
        if keep == 0 { contextMotion = []; contextRows = [] }
        return out
    }
}

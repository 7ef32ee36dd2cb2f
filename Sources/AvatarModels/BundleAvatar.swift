public import AvatarBundle
public import AvatarStages
import AvatarMotion

/// An avatar built from a bundle: the audio front-end, the motion model with its style prompts (features
/// computed at load), and optionally a renderer. Weights are loaded once and shared by all sessions; each
/// session gets its own stages (networks, sliding-window state).
public final class BundleAvatar: Avatar, @unchecked Sendable {
    // @unchecked: immutable after init; the models it holds are shared read-only (see ICSA2MModel).
    public let name: String
    public let description: String
    public let width: Int
    public let height: Int
    public let fps: Int
    public let styles: [String]
    public let defaultStyle: String?
    public let motionNames: [String]
    let frontEnd: AudioFrontEnd
    let motion: ICSA2MModel
    let stylePrompts: [String: StylePrompt]
    let silenceRow: [Float]
    let makeFrames: (@Sendable () throws -> any FrameStage)?

    init(manifest: BundleManifest, frontEnd: AudioFrontEnd, motion: ICSA2MModel, stylePrompts: [String: StylePrompt],
         silenceRow: [Float], makeFrames: (@Sendable () throws -> any FrameStage)?) {
        name = manifest.name
        description = manifest.description ?? ""
        width = manifest.video.width
        height = manifest.video.height
        fps = manifest.video.fps
        styles = (manifest.styles ?? []).map(\.name)
        defaultStyle = manifest.defaultStyle ?? styles.first
        motionNames = manifest.motionNames ?? (0..<motion.config.motionDim).map { "m\($0)" }
        self.frontEnd = frontEnd
        self.motion = motion
        self.stylePrompts = stylePrompts
        // What the front-end gives for digital silence (the daemon's underrun fill and the context padding).
        self.silenceRow = silenceRow
        self.makeFrames = makeFrames
    }

    public var rendersVideo: Bool { makeFrames != nil }

    /// The sliding window's hop + look-ahead, plus the front-end's own look-ahead.
    public var algorithmicLatencyMs: Int {
        let c = motion.config
        return 1000 * (c.streamHop + c.streamLookahead) / fps + frontEnd.lookaheadMs
    }

    public func makeStages(options: SessionStageOptions) throws -> SessionStages {
        let c = motion.config
        let style: StylePrompt
        if let name = options.style ?? defaultStyle {
            guard let s = stylePrompts[name] else { throw MotionModelError(self.name, "no style '\(name)'") }
            style = s
        } else {
            style = .none
        }
        let sampler = A2MSampler(steps: options.steps ?? c.steps, cfgScale: options.cfgScale ?? c.cfgScale,
                                 temperature: options.temperature ?? c.temperature)
        let plan = StreamingPlan(hop: c.streamHop, lookahead: c.streamLookahead, leftContext: c.streamLeftContext)
        let stage = A2MMotionStage(runner: ICSA2MRunner(model: motion), style: style, sampler: sampler, plan: plan,
                                   seed: options.seed, silenceRow: silenceRow, fullWindow: options.fullWindow)
        return SessionStages(features: try frontEnd.makeStage(), motion: stage, frames: try makeFrames?())
    }
}

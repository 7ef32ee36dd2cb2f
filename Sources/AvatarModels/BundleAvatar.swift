public import AvatarBundle
public import AvatarStages
import AvatarMotion
import Synchronization

/// An avatar built from a bundle: the audio front-end, the motion model with its style prompts (features
/// computed at load), and optionally a renderer. Weights are loaded once per device replica and shared by
/// the sessions on it; each session gets its own stages (networks, sliding-window state) on the replica
/// with the fewest sessions.
public final class BundleAvatar: Avatar, @unchecked Sendable {
    // @unchecked: immutable after init but for `load` (a Mutex); the models it holds are shared read-only
    // (see ICSA2MModel).

    /// One device's copy of the models.
    struct Replica {
        let frontEnd: AudioFrontEnd
        let motion: ICSA2MModel
        let makeFrames: (@Sendable (SessionStageOptions) throws -> any FrameStage)?
        /// A MimicTalk avatar's face half (its frames come from `makeFrames`; it also extends the motion).
        var face: MimicTalkFace? = nil
    }

    /// Sessions running on each replica.
    final class ReplicaLoad: Sendable {
        let counts: Mutex<[Int]>
        init(replicas: Int) { counts = Mutex([Int](repeating: 0, count: replicas)) }

        /// Takes the replica with the fewest sessions; the lease gives it back when the session's stages go.
        func acquire() -> (index: Int, lease: Lease) {
            let index = counts.withLock { counts in
                let i = counts.indices.min { counts[$0] < counts[$1] } ?? 0
                counts[i] += 1
                return i
            }
            return (index, Lease(load: self, index: index))
        }

        final class Lease {
            let load: ReplicaLoad
            let index: Int
            init(load: ReplicaLoad, index: Int) {
                self.load = load
                self.index = index
            }
            deinit { load.counts.withLock { $0[index] -= 1 } }
        }
    }

    public let name: String
    public let description: String
    public let width: Int
    public let height: Int
    public let fps: Int
    public let styles: [String]
    public let defaultStyle: String?
    public let motionNames: [String]
    let replicas: [Replica]
    let stylePrompts: [String: StylePrompt]
    let silenceRow: [Float]
    /// The bundle's `eye_motion` process settings (nil: the model's own blinks and gaze).
    let eyeMotion: EyeMotionConfig?
    /// The bundle's `motion_smoothing` low-pass (nil: the model's values as they come).
    let motionSmoothing: MotionSmoothingConfig?
    private let load: ReplicaLoad

    var frontEnd: AudioFrontEnd { replicas[0].frontEnd }
    var motion: ICSA2MModel { replicas[0].motion }

    init(manifest: BundleManifest, replicas: [Replica], stylePrompts: [String: StylePrompt], silenceRow: [Float],
         eyeMotion: EyeMotionConfig? = nil, motionSmoothing: MotionSmoothingConfig? = nil) {
        precondition(!replicas.isEmpty)
        let motion = replicas[0].motion
        name = manifest.name
        description = manifest.description ?? ""
        width = manifest.video.width
        height = manifest.video.height
        fps = manifest.video.fps
        styles = (manifest.styles ?? []).map(\.name)
        defaultStyle = manifest.defaultStyle ?? styles.first
        let names = manifest.motionNames ?? (0..<motion.config.motionDim).map { "m\($0)" }
        // A MimicTalk stage appends the smoothed torso keypoints and the camera to the expression.
        motionNames = replicas[0].face == nil ? names
            : names + (0..<68).flatMap { ["kp_d.\($0).x", "kp_d.\($0).y"] } + (0..<MimicTalkMotionStage.cameraValues).map { "camera.\($0)" }
        self.replicas = replicas
        self.stylePrompts = stylePrompts
        // What the front-end gives for digital silence (the daemon's underrun fill and the context padding).
        self.silenceRow = silenceRow
        self.eyeMotion = eyeMotion
        self.motionSmoothing = motionSmoothing
        load = ReplicaLoad(replicas: replicas.count)
    }

    public var rendersVideo: Bool { replicas[0].makeFrames != nil }

    /// Sessions currently running on each device replica.
    public var sessionsPerReplica: [Int] { load.counts.withLock { $0 } }

    /// The sliding window's hop + look-ahead, plus the front-end's own look-ahead. `motion_smoothing` adds nothing:
    /// it is causal (no audio beyond a frame), its lag of about τ on the smoothed dimensions is a visual delay.
    public var algorithmicLatencyMs: Int {
        let c = motion.config
        let keypointLookahead = replicas[0].face == nil ? 0 : MimicTalkMotionStage.lookaheadFrames
        return 1000 * (c.streamHop + c.streamLookahead + keypointLookahead) / fps + frontEnd.lookaheadMs
    }

    public func poseRefusal(_ pose: SessionPose) -> String? {
        guard pose != .avatar else { return nil }
        guard let face = replicas[0].face else {
            return "avatar '\(name)' has no pose source to choose: its head pose, if any, comes from its motion model"
        }
        return face.poseRefusal(pose).map { "avatar '\(name)' \($0)" }
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
        let sampler = A2MSampler(config: c, options: options)
        let plan = c.streamingPlan
        let (index, lease) = load.acquire()
        let replica = replicas[index]
        // Full window reproduces upstream's offline path: utterance-mode features, rows padded as upstream pads.
        let padRows = options.fullWindow ? replica.frontEnd.fullWindowPadRowsMultiple : 1
        let stage = A2MMotionStage(runner: ICSA2MRunner(model: replica.motion), style: style, sampler: sampler, plan: plan,
                                   seed: options.seed, silenceRow: silenceRow, fullWindow: options.fullWindow,
                                   padRowsMultiple: padRows)
        var motion: any MotionStage = try replica.face.map { try $0.wrap(stage, options: options, padRowsMultiple: padRows) } ?? stage
        // Smoothing inside the eye process: the filter sees the model's values, the eye process overrides last
        // (the factory refuses smoothing an eye dimension that the eye process drives).
        if let motionSmoothing {
            motion = try MotionSmoothingStage(inner: motion, config: motionSmoothing, fps: fps, motionNames: motionNames)
        }
        if let eyeMotion {
            // Seeded from the session seed, so a session replays identically; re-based on the shown frame at interruptions.
            motion = try EyeMotionStage(inner: motion, process: EyeMotionProcess(config: eyeMotion, fps: fps, seed: options.seed),
                                        motionNames: motionNames)
        }
        return SessionStages(features: try replica.frontEnd.makeStage(utterance: options.fullWindow), motion: motion,
                             frames: try replica.makeFrames?(options), lease: lease)
    }
}

public import AvatarConfig
public import AvatarStages

/// Everything a session needs to start, validated on `session.start` before `session.ready`.
public struct SessionPlan: Sendable {
    public var sessionID: String
    public var avatar: any Avatar
    public var stageOptions: SessionStageOptions
    public var preset: OutputPreset
    /// The sink-side pipeline description with every placeholder resolved.
    public var pipeline: String
    /// Client-settable string values, bound to element properties after parsing (token → value).
    public var pipelineBindings: [String: String]
    /// File the output writes, if any (for logs and tests).
    public var outputFile: String?
    public var outputDelayMs: Int
    public var maxBufferSeconds: Double
    /// Motion only (`render --motion-out` without video): no output pipeline, frames are not rendered.
    public var motionOnly: Bool
    /// Offline sessions only (`avatard render --window full`: one utterance, no interruption): the source file's
    /// audio at 16 kHz. The stages read these samples at the timeline's positions instead of the decoded packets'
    /// (Opus is lossy and delays by its pre-skip), and nothing past their end (not the silence that rounds the
    /// utterance up to whole frames), so a full-window render sees the file's waveform as upstream's offline
    /// inference does; the timeline and the output keep the decoded packets. Packets should cover
    /// ⌈count / 320⌉ × 20 ms, so the session's frames are the ones the stages emit.
    public var sourceAudio: [Float]?

    public init(sessionID: String, avatar: any Avatar, stageOptions: SessionStageOptions, preset: OutputPreset,
                pipeline: String, pipelineBindings: [String: String] = [:], outputFile: String?, outputDelayMs: Int,
                maxBufferSeconds: Double, motionOnly: Bool = false) {
        self.pipelineBindings = pipelineBindings
        self.motionOnly = motionOnly
        self.sessionID = sessionID
        self.avatar = avatar
        self.stageOptions = stageOptions
        self.preset = preset
        self.pipeline = pipeline
        self.outputFile = outputFile
        self.outputDelayMs = outputDelayMs
        self.maxBufferSeconds = maxBufferSeconds
    }

    public var mode: OutputMode { preset.mode }
    /// Live outputs carry the fixed delay; offline outputs follow the audio and report 0.
    public var effectiveDelayMs: Int { mode == .live ? outputDelayMs : 0 }
}

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

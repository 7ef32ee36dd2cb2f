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
    /// Offline only: the source file's audio at 16 kHz. The stages read these samples at the positions of the
    /// decoded packets (Opus is lossy and delays by its pre-skip) and nothing after them (not the silence that
    /// rounds the utterance up to whole frames), so a full-window render sees the file's waveform as upstream's
    /// offline inference does; the output still carries the Opus packets.
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

/// Per-session choices that shape the stages.
public struct SessionStageOptions: Sendable, Equatable {
    public var style: String?
    public var seed: UInt64
    public var temperature: Float?
    /// Grid points of the flow-matching ODE (midpoint steps + 1), as the bundle's `steps`.
    public var steps: Int?
    public var cfgScale: Float?
    /// Full-utterance (offline, upstream-identical) motion instead of the sliding window.
    public var fullWindow: Bool
    /// Where the head poses come from (avatars with a head pose: MimicTalk).
    public var pose: SessionPose

    public init(style: String? = nil, seed: UInt64 = 0, temperature: Float? = nil, steps: Int? = nil,
                cfgScale: Float? = nil, fullWindow: Bool = false, pose: SessionPose = .avatar) {
        self.style = style
        self.seed = seed
        self.temperature = temperature
        self.steps = steps
        self.cfgScale = cfgScale
        self.fullWindow = fullWindow
        self.pose = pose
    }
}

/// The stages one session runs, created per session by its avatar. They are used from the session's
/// render thread only (not Sendable); read-only weights are shared between sessions by the avatar.
public struct SessionStages {
    public var features: any AudioFeatureStage
    public var motion: any MotionStage
    /// Nil for motion-only avatars (they produce coefficients, no video).
    public var frames: (any FrameStage)?
    /// Held for as long as the session runs (e.g. the avatar's count of sessions per device replica).
    public var lease: AnyObject?

    public init(features: any AudioFeatureStage, motion: any MotionStage, frames: (any FrameStage)?, lease: AnyObject? = nil) {
        self.features = features
        self.motion = motion
        self.frames = frames
        self.lease = lease
    }
}

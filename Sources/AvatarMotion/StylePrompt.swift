/// An in-context style prompt: an expression track [frames, motion_dim] and the front-end's feature rows of
/// its audio [2·frames, audio_dim] (computed when the avatar loads).
public struct StylePrompt: Sendable, Equatable {
    public var motion: [Float]
    public var features: [Float]
    public var frames: Int

    public init(motion: [Float], features: [Float], frames: Int) {
        self.motion = motion
        self.features = features
        self.frames = frames
    }

    public static let none = StylePrompt(motion: [], features: [], frames: 0)
}

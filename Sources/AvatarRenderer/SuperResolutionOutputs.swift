public import AvatarGraph

/// The super-resolution's results (RendererGraphBuilder+SuperResolution.swift).
public struct SuperResolutionOutputs {
    /// block1's image [3, S, S] before the clamp (the reference's `sr_image`).
    public var sr: GraphValue
    /// clamp(sr, −1, 1), the frame.
    public var image: GraphValue
    /// clamp(torso alpha + head alpha, 0, 1) [1, sr, sr], the foreground/background weight.
    public var personAlpha: GraphValue

    public init(sr: GraphValue, image: GraphValue, personAlpha: GraphValue) {
        self.sr = sr
        self.image = image
        self.personAlpha = personAlpha
    }
}

public import AvatarGraph

/// What the torso model gives the super-resolution (owned by RendererGraphBuilder+Torso.swift).
public struct TorsoOutputs {
    /// The warped torso image [3, sr, sr].
    public var rgb: GraphValue
    /// The generator's last features [gen_ch.last, sr, sr] (the torso encoder's input).
    public var hidden: GraphValue
    /// occlusion_2, the torso alpha [1, sr, sr].
    public var alpha: GraphValue

    public init(rgb: GraphValue, hidden: GraphValue, alpha: GraphValue) {
        self.rgb = rgb
        self.hidden = hidden
        self.alpha = alpha
    }
}

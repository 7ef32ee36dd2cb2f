public import AvatarGraph

/// What the warp-based torso model hands the super-resolution: rgb [3, sr, sr], the generator's last features
/// (hidden [gen_ch.last, sr, sr]) and the torso alpha (occlusion_2) [1, sr, sr].
public struct TorsoOutputs { public var rgb: GraphValue; public var hidden: GraphValue; public var alpha: GraphValue; public init(rgb: GraphValue, hidden: GraphValue, alpha: GraphValue) { self.rgb = rgb; self.hidden = hidden; self.alpha = alpha } }

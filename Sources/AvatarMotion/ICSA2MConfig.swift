public import AvatarBundle

/// Sizes and sampler defaults of an ICS-A2M motion model (docs/motion.md §2), from the manifest's
/// `motion_model.config` as tools/convert.py and tools/demo/train_a2m.py write it.
public struct ICSA2MConfig: Sendable, Equatable {
    public var motionDim = 64
    public var audioDim = 1024
    public var audioHidden = 256
    public var aux = false
    public var dim = 256
    public var depth = 16
    public var heads = 8
    public var dimHead = 64
    public var ffInner = 682
    public var registers = 16
    public var timeHidden = 1024
    public var convKernel = 31
    public var registerPosition = -10000
    public var attnScale: Float = 10
    public var normEps: Float = 1e-12

    // Sampler defaults (grid points as upstream's denoising_steps; streaming plan in motion frames).
    public var steps = 4
    public var cfgScale: Float = 1.5
    public var temperature: Float = 0.3
    public var streamHop = 4
    public var streamLookahead = 2
    public var streamLeftContext = 40

    public init() {}

    public init(manifest config: [String: ManifestValue]?) throws {
        let c = config ?? [:]
        func int(_ key: String, _ value: Int, min: Int = 1) throws -> Int {
            guard let v = c[key] else { return value }
            guard let i = v.int, i >= min else { throw MotionModelError("ics_a2m", "config.\(key) must be an integer ≥ \(min)") }
            return i
        }
        func float(_ key: String, _ value: Float) throws -> Float {
            guard let v = c[key] else { return value }
            guard let d = v.double else { throw MotionModelError("ics_a2m", "config.\(key) must be a number") }
            return Float(d)
        }
        motionDim = try int("motion_dim", 64)
        audioDim = try int("audio_dim", 1024)
        audioHidden = try int("audio_hidden", 256)
        aux = c["aux"]?.bool ?? false
        dim = try int("dim", 256)
        depth = try int("depth", 16)
        heads = try int("heads", 8)
        dimHead = try int("dim_head", 64)
        ffInner = try int("ff_inner", 682)
        registers = try int("registers", 16, min: 0)
        timeHidden = try int("time_hidden", 1024)
        convKernel = try int("conv_kernel", 31)
        registerPosition = c["register_position"]?.int ?? -10000
        attnScale = try float("attn_scale", 10)
        normEps = try float("norm_eps", 1e-12)
        steps = try int("steps", 4, min: 2)
        cfgScale = try float("cfg_scale", 1.5)
        temperature = try float("temperature", 0.3)
        streamHop = try int("stream_hop", 4)
        streamLookahead = try int("stream_lookahead", 2, min: 0)
        streamLeftContext = try int("stream_left_context", 40, min: 0)
        if aux {
            throw MotionModelError("ics_a2m", "aux features (pitch, blink, mouth amplitude) are not implemented by this build; convert without aux or use a bundle whose config has \"aux\": false")
        }
        for (key, expected) in [("ff_activation", "geglu"), ("time_embedding", "learned_sinusoidal"), ("rotary", "rotate_half_full_head")] {
            if let v = c[key], v.string != expected {
                throw MotionModelError("ics_a2m", "config.\(key) must be \"\(expected)\" (the only variant implemented)")
            }
        }
        guard dim % 2 == 0, dimHead % 2 == 0, dimHead % 4 == 0, convKernel % 2 == 1 else {
            throw MotionModelError("ics_a2m", "config needs even dim, dim_head a multiple of 4 and an odd conv_kernel (got \(dim), \(dimHead), \(convKernel))")
        }
        if let cin = c["cond_in"]?.int, cin != audioHidden {
            throw MotionModelError("ics_a2m", "config.cond_in \(cin) != audio_hidden \(audioHidden) without aux features")
        }
    }

    /// Bundle tensor name → shape (docs/motion.md §4.3; tools/reference/a2m.py `tensor_shapes`).
    public var tensorShapes: [String: [Int]] {
        var s: [String: [Int]] = [:]
        s["audio_encoder.conv0.weight"] = [audioHidden, audioDim, 3]
        s["audio_encoder.conv0.bias"] = [audioHidden]
        s["audio_encoder.conv1.weight"] = [audioHidden, audioHidden, 3]
        s["cond_proj.weight"] = [motionDim, audioHidden]
        s["cond_proj.bias"] = [motionDim]
        s["input_proj.weight"] = [dim, 3 * motionDim]
        s["input_proj.bias"] = [dim]
        s["null_cond"] = [motionDim]
        s["conv_embed.weight"] = [dim, convKernel]
        s["conv_embed.bias"] = [dim]
        s["time.freqs"] = [dim / 2]
        s["time.proj.weight"] = [timeHidden, dim]
        s["time.proj.bias"] = [timeHidden]
        if registers > 0 { s["registers"] = [registers, dim] }
        s["rotary.inv_freq"] = [dimHead / 2]
        for i in 0..<depth {
            let p = "layers.\(i)."
            for norm in ["attn_norm", "ff_norm"] {
                s[p + norm + ".gamma.weight"] = [dim, timeHidden]
                s[p + norm + ".gamma.bias"] = [dim]
                s[p + norm + ".beta.weight"] = [dim, timeHidden]
                s[p + norm + ".beta.bias"] = [dim]
            }
            s[p + "attn.q_norm"] = [heads, dimHead]
            s[p + "attn.k_norm"] = [heads, dimHead]
            s[p + "attn.qkv.weight"] = [3 * heads * dimHead, dim]
            s[p + "attn.out.weight"] = [dim, heads * dimHead]
            s[p + "ff.in.weight"] = [2 * ffInner, dim]
            s[p + "ff.in.bias"] = [2 * ffInner]
            s[p + "ff.out.weight"] = [dim, ffInner]
            s[p + "ff.out.bias"] = [dim]
        }
        s["final_norm.gamma"] = [dim]
        s["output_proj.weight"] = [motionDim, dim]
        return s
    }
}

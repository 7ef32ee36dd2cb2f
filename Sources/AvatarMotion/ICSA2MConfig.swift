public import AvatarFormats
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
    /// `stream_context`: "motion" (emitted frames fed back as prompt, upstream's scheme) or "audio".
    public var streamContext = StreamingPlan.Context.motion
    /// Soft limit of a sliding window's feedback: these motion dimensions of every emitted frame become
    /// L·tanh(x/L) (L = `streamLimit`, 0 = off) before they are output and kept as context (A2MMotionStage).
    public var streamLimitDims: [Int] = []
    public var streamLimit: Float = 0
    /// Per-dimension temperature: these motion dimensions start from noise × temperature × their entry of
    /// `temperatureDimsScales` (the demo's head pose: its random part — phrase turns, sway — shrinks at the
    /// mouth's temperature). `temperature_dims_scale` is one number for all of them or one per listed dimension.
    public var temperatureDims: [Int] = []
    public var temperatureDimsScales: [Float] = []

    public init() {}

    /// The streaming plan of the config's defaults.
    public var streamingPlan: StreamingPlan {
        StreamingPlan(hop: streamHop, lookahead: streamLookahead, leftContext: streamLeftContext, context: streamContext)
    }

    /// Factor on the temperature per motion dimension (1 except `temperatureDims`).
    public var temperatureScale: [Float] {
        var scale = [Float](repeating: 1, count: motionDim)
        for (d, k) in zip(temperatureDims, temperatureDimsScales) where d >= 0 && d < motionDim { scale[d] = k }
        return scale
    }

    /// From a manifest's `motion_model.config` (tools/reference/a2m.py `A2MConfig.manifest()`, as written by
    /// tools/convert.py and tools/demo/train_a2m.py). Sampler defaults are read from the top level
    /// (`steps`, `cfg_scale`, `temperature`, `stream_hop`, `stream_lookahead`, `stream_left_context`,
    /// `stream_context`, `stream_limit_dims`, `stream_limit`, `temperature_dims`, `temperature_dims_scale`) or from a
    /// nested `sampler` object (tools/convert.py); top-level keys win. Missing keys keep the defaults above.
    /// Throws `MotionModelError` for wrong types, out-of-range values, variants this port does not implement,
    /// and for aux features (pitch/blink/mouth amplitude), which it does not implement.
    public init(manifest config: [String: JSONValue]?) throws {
        let c = config ?? [:]
        var sampler: [String: JSONValue] = [:]
        if let nested = c["sampler"] {
            guard case .object(let o) = nested else { throw MotionModelError("ics_a2m", "config.sampler must be an object") }
            sampler = o
        }
        func value(_ key: String) -> (name: String, value: JSONValue)? {
            if let v = c[key] { return ("config.\(key)", v) }
            if let v = sampler[key] { return ("config.sampler.\(key)", v) }
            return nil
        }
        func int(_ key: String, _ fallback: Int, min: Int = 1, max: Int = 1 << 20) throws -> Int {
            guard let (name, v) = value(key) else { return fallback }
            // Range check on the double first: Int(1e300) would trap.
            guard let d = v.double, d == d.rounded(), d >= Double(min), d <= Double(max) else {
                throw MotionModelError("ics_a2m", "\(name) must be an integer in \(min)…\(max), found \(Self.render(v))")
            }
            return Int(d)
        }
        func float(_ key: String, _ fallback: Float, min: Float? = nil) throws -> Float {
            guard let (name, v) = value(key) else { return fallback }
            guard let d = v.double, d.isFinite, abs(d) < 1e30, Float(d) >= (min ?? -.infinity) else {
                let bound = min.map { " ≥ \($0)" } ?? ""
                throw MotionModelError("ics_a2m", "\(name) must be a finite number\(bound), found \(Self.render(v))")
            }
            return Float(d)
        }
        if let v = c["aux"] {
            guard let b = v.bool else { throw MotionModelError("ics_a2m", "config.aux must be true or false, found \(Self.render(v))") }
            aux = b
        }
        if aux {
            throw MotionModelError("ics_a2m", "config.aux is true: aux features (pitch, blink, mouth amplitude) are not implemented by this port; convert the checkpoint without aux features or use a bundle with \"aux\": false")
        }
        motionDim = try int("motion_dim", 64)
        audioDim = try int("audio_dim", 1024)
        audioHidden = try int("audio_hidden", 256)
        dim = try int("dim", 256)
        depth = try int("depth", 16, max: 1024)
        heads = try int("heads", 8, max: 1024)
        dimHead = try int("dim_head", 64, max: 1024)
        ffInner = try int("ff_inner", 682)
        registers = try int("registers", 16, min: 0, max: 4096)
        timeHidden = try int("time_hidden", 1024)
        convKernel = try int("conv_kernel", 31, max: 1023)
        registerPosition = try int("register_position", -10000, min: -(1 << 24), max: 1 << 24)
        attnScale = try float("attn_scale", 10, min: 0)
        normEps = try float("norm_eps", 1e-12, min: 0)
        steps = try int("steps", 4, min: 2, max: 1000)
        cfgScale = try float("cfg_scale", 1.5)
        temperature = try float("temperature", 0.3, min: 0)
        streamHop = try int("stream_hop", 4, max: 10_000)
        streamLookahead = try int("stream_lookahead", 2, min: 0, max: 10_000)
        streamLeftContext = try int("stream_left_context", 40, min: 0, max: 10_000)
        if let (name, v) = value("stream_context") {
            guard let text = v.string, let context = StreamingPlan.Context(rawValue: text) else {
                let allowed = StreamingPlan.Context.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
                throw MotionModelError("ics_a2m", "\(name) must be \(allowed), found \(Self.render(v))")
            }
            streamContext = context
        }
        streamLimit = try float("stream_limit", 0, min: 0)
        func dims(_ key: String) throws -> [Int] {
            guard let (name, v) = value(key) else { return [] }
            guard case .array(let items) = v else { throw MotionModelError("ics_a2m", "\(name) must be an array of motion dimension indices, found \(Self.render(v))") }
            let list = try items.map { item in
                guard let d = item.double, d == d.rounded(), d >= 0, d < Double(motionDim) else {
                    throw MotionModelError("ics_a2m", "\(name) must hold motion dimension indices 0…\(motionDim - 1), found \(Self.render(item))")
                }
                return Int(d)
            }
            guard Set(list).count == list.count else {
                throw MotionModelError("ics_a2m", "\(name) lists a dimension twice: \(list)")
            }
            return list
        }
        streamLimitDims = try dims("stream_limit_dims")
        temperatureDims = try dims("temperature_dims")
        if let (name, v) = value("temperature_dims_scale"), case .array(let items) = v {
            temperatureDimsScales = try items.map { item in
                guard let d = item.double, d.isFinite, d >= 0, d < 1e30 else {
                    throw MotionModelError("ics_a2m", "\(name) must hold finite numbers ≥ 0, found \(Self.render(item))")
                }
                return Float(d)
            }
            guard temperatureDimsScales.count == temperatureDims.count else {
                throw MotionModelError("ics_a2m", "\(name) has \(temperatureDimsScales.count) entries for \(temperatureDims.count) temperature_dims")
            }
        } else {
            let k = try float("temperature_dims_scale", 1, min: 0)
            temperatureDimsScales = temperatureDims.map { _ in k }
        }
        for (key, expected) in [("ff_activation", "geglu"), ("time_embedding", "learned_sinusoidal"), ("rotary", "rotate_half_full_head")] {
            if let v = c[key], v.string != expected {
                throw MotionModelError("ics_a2m", "config.\(key) must be \"\(expected)\" (the only variant implemented), found \(Self.render(v))")
            }
        }
        if let v = c["feature_rows_per_motion_row"], v.double != 2 {
            throw MotionModelError("ics_a2m", "config.feature_rows_per_motion_row must be 2 (50 Hz features, 25 Hz motion), found \(Self.render(v))")
        }
        guard dim % 2 == 0, dimHead % 4 == 0, convKernel % 2 == 1 else {
            throw MotionModelError("ics_a2m", "config needs an even dim, dim_head a multiple of 4 and an odd conv_kernel (found \(dim), \(dimHead), \(convKernel))")
        }
        if let v = c["cond_in"], v.double != Double(audioHidden) {
            throw MotionModelError("ics_a2m", "config.cond_in must equal audio_hidden \(audioHidden) without aux features, found \(Self.render(v))")
        }
    }

    /// A manifest value as JSON-like text for error messages.
    static func render(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return "\"\(s)\""
        case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .bool(let b): return String(b)
        case .array(let a): return "[" + a.map(render).joined(separator: ", ") + "]"
        case .object: return "{…}"
        case .null: return "null"
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

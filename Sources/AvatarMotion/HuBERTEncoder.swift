public import AvatarOperators
public import AvatarGraph
public import AvatarStages
import AvatarVulkan

/// HuBERT / wav2vec2 encoder forward (Hugging Face `last_hidden_state`, docs/motion.md §1.1) on the Vulkan
/// engine. One network is planned per input length and replayed; the last few plans are kept.
///
/// Layout: activations are time-major ([rows, channels]). Every conv is an im2col copy plus one matmul
/// against the PyTorch weight as stored ([Cout, Cin·K] rows in (channel, tap) order), so the weights need
/// no reordering. The grouped positional conv is a batched matmul over the 16 groups, in blocks of rows.
///
/// Not thread-safe: use one encoder from one thread (a session's render thread), like a `Network`.
public final class HuBERTEncoder {
    public let config: HuBERTConfig
    public let weights: HuBERTWeights
    public let ops: Operators
    /// Planned networks by (samples, trace), most recent last.
    private var plans: [(key: PlanKey, network: GraphNetwork)] = []
    /// How many planned lengths are kept (each holds its own activation arena).
    public var maxPlans = 2
    /// GPU timestamps per step (for benchmarks).
    public var timestamps = false
    /// Element type of the intermediate activations (`.float16`: fp16 storage, fp32 arithmetic; see docs/engine.md).
    public let activations: GraphElementType

    struct PlanKey: Equatable { var samples: Int; var trace: Bool }

    /// Rows of the positional conv's im2col handled per batched matmul (bounds its scratch to
    /// rows·hidden·kernel floats).
    static let positionalBlockRows = 256

    public init(weights: HuBERTWeights, ops: Operators, activations: GraphElementType = .float32) {
        self.config = weights.config
        self.weights = weights
        self.ops = ops
        self.activations = activations
    }

    /// Intermediate values exposed by `trace` (the names of the reference's trace).
    public static func traceNames(layers: Int) -> [String] {
        ["extract", "projected", "positional"] + (0..<layers).map { "layer\($0)" }
    }

    /// One forward pass over already normalised samples: [rows, hidden] row-major, rows = `config.rows(samples:)`.
    public func encode(normalized samples: [Float]) throws -> [Float] {
        let network = try plan(samples: samples.count, trace: false)
        try network.write("wave", samples)
        try network.run()
        return try network.read("features")
    }

    /// Like `encode` and also returns the intermediates of `traceNames` plus "features".
    public func trace(normalized samples: [Float]) throws -> [String: [Float]] {
        let network = try plan(samples: samples.count, trace: true)
        try network.write("wave", samples)
        try network.run()
        var out: [String: [Float]] = [:]
        for name in Self.traceNames(layers: config.numLayers) + ["features"] {
            out[name] = try network.read(name)
        }
        return out
    }

    /// GPU time per node of the last run (when `timestamps` was set before planning), labelled "group/node".
    public func lastStepTimings(samples: Int) -> [(label: String, seconds: Double)] {
        plans.last { $0.key.samples == samples }?.network.timings() ?? []
    }

    /// Wav2Vec2 processor normalisation: (x − mean)/√(var + eps) with the population variance, accumulated
    /// in double, one rounding to float.
    public static func normalize(_ samples: [Float], eps: Double) -> [Float] {
        guard !samples.isEmpty else { return [] }
        var stats = HuBERTInputStatistics()
        stats.add(samples[...])
        return stats.normalize(samples[...], eps: eps)
    }

    /// MimicTalk's whole-utterance extraction (docs/motion.md §1.1 step 6): normalise all samples once, encode
    /// non-overlapping chunks of `chunkFrames` rows (plus a remainder of at least one receptive field), keep
    /// (N − (R − S))/S rows, and with `padded` append zero rows up to a multiple of `padRowsMultiple`.
    /// Fewer samples than one receptive field give no rows.
    public func utteranceFeatures(_ samples: [Float], padded: Bool = true) throws -> FeatureRows {
        let c = config
        let h = c.hiddenSize
        let n = samples.count
        guard n >= c.receptiveField else { return FeatureRows(dimension: h) }
        let x = c.normalizeInput ? Self.normalize(samples, eps: c.normalizeEps) : samples
        let clip = c.stride * c.chunkFrames
        let chunkSamples = clip - c.stride + c.receptiveField
        var values: [Float] = []
        let full = n / clip
        for i in 0..<full {
            values += try encode(normalized: Array(x[(i * clip)..<min(n, i * clip + chunkSamples)]))
        }
        if n - full * clip >= c.receptiveField {
            values += try encode(normalized: Array(x[(full * clip)...]))
        }
        let expected = (n - (c.receptiveField - c.stride)) / c.stride
        guard values.count >= expected * h else {
            throw MotionModelError("hubert", "chunked encoding gave \(values.count / h) rows, expected \(expected)")
        }
        values.removeSubrange((expected * h)...)
        if padded {
            let extra = (c.padRowsMultiple - expected % c.padRowsMultiple) % c.padRowsMultiple
            values += [Float](repeating: 0, count: extra * h)
        }
        return FeatureRows(dimension: h, values: values)
    }

    // MARK: Planning

    func plan(samples: Int, trace: Bool) throws -> GraphNetwork {
        let key = PlanKey(samples: samples, trace: trace)
        if let i = plans.firstIndex(where: { $0.key == key }) {
            let entry = plans.remove(at: i)
            plans.append(entry)
            return entry.network
        }
        let network = try build(samples: samples, trace: trace)
        plans.append((key, network))
        while plans.count > max(1, maxPlans) { plans.removeFirst() }
        return network
    }

    private func build(samples: Int, trace: Bool) throws -> GraphNetwork {
        let c = config
        let rows = c.rows(samples: samples)
        guard rows > 0 else {
            throw MotionModelError("hubert", "\(samples) samples are fewer than one receptive field (\(c.receptiveField))")
        }
        let g = try Graph(name: "hubert", ops: ops, activations: activations)
        let w = g.weights(weights)
        let shapes = Dictionary(uniqueKeysWithValues: c.tensorShapes.map { ($0.name, $0.shape) })
        func weight(_ s: WeightScope, _ name: String) throws -> GraphValue {
            try s.weight(name, shapes[s.fullName(name)] ?? [])
        }
        func traced(_ name: String, _ v: GraphValue) throws { if trace { try g.output(name, v) } }
        let H = c.hiddenSize, eps = c.layerNormEps

        // Feature extractor: each conv is an im2col gather + one matmul against the weight as stored
        // ([Cout, Cin·K] in (channel, tap) order), time-major activations.
        var x = try g.input("wave", [samples, 1])
        for (i, (cout, (k, s))) in zip(c.convDim, zip(c.convKernel, c.convStride)).enumerated() {
            let p = w.scope("feature_extractor.conv\(i)")
            x = try g.group("conv\(i)") {
                let (length, cin) = (x.shape[0], x.shape[1])
                let out = (length - k) / s + 1
                let col = try g.gather(x, shape: [out, cin, k], strides: [s * cin, 1, cin], label: "im2col")
                let y = try g.matmul(try g.reshape(col, [out, cin * k]), try g.reshape(try weight(p, "weight"), [cout, cin * k]),
                                     transposeB: true, bias: c.convBias ? try weight(p, "bias") : nil)
                switch (c.featureNorm, i) {
                case (.layer, _):
                    return try g.gelu(try g.layerNorm(y, weight: try weight(p, "norm.weight"), bias: try weight(p, "norm.bias"),
                                                      eps: c.convNormEps))
                case (.group, 0):
                    // GroupNorm with one group per channel: normalise each channel over time, channel-major.
                    let channelMajor = try g.permute(y, [1, 0])
                    let ones = try g.constant("ones", values: [Float](repeating: 1, count: out), shape: [out])
                    let normed = try g.layerNorm(channelMajor, weight: ones, bias: nil, eps: c.convNormEps)
                    let affine = try g.scaleShift(normed, scale: try weight(p, "norm.weight"), shift: try weight(p, "norm.bias"), axis: 0)
                    return try g.permute(try g.gelu(affine), [1, 0])
                case (.group, _):
                    return try g.gelu(y)
                }
            }
        }
        try traced("extract", x)
        guard x.shape[0] == rows else { throw MotionModelError("hubert", "feature extractor gave \(x.shape[0]) rows, expected \(rows)") }

        // Feature projection, then the positional conv: h + gelu(conv(h) + b).
        let projection = w.scope("feature_projection")
        if c.featureProjectionLayerNorm {
            x = try g.layerNorm(x, weight: try weight(projection, "norm.weight"), bias: try weight(projection, "norm.bias"), eps: eps)
        }
        let projected = try g.linear(x, try weight(projection, "linear.weight"), bias: try weight(projection, "linear.bias"))
        try traced("projected", projected)
        var h = try g.group("positional") {
            let conv = try g.groupedTimeConv(projected, weight: try weight(w, "pos_conv.weight"), groups: c.posConvGroups,
                                             blockRows: Self.positionalBlockRows)
            return try g.add(projected, try g.gelu(try g.add(conv, try weight(w, "pos_conv.bias"))))
        }
        try traced("positional", h)

        // Encoder layers (post-norm HuBERT-base style, or pre-norm "stable" HuBERT-large style).
        let heads = c.numHeads, d = c.headDim
        let scale = Float(1.0 / Double(d).squareRoot())
        func layerNorm(_ v: GraphValue, _ s: WeightScope) throws -> GraphValue {
            try g.layerNorm(v, weight: try weight(s, "weight"), bias: try weight(s, "bias"), eps: eps)
        }
        func linear(_ v: GraphValue, _ s: WeightScope) throws -> GraphValue {
            try g.linear(v, try weight(s, "weight"), bias: try weight(s, "bias"))
        }
        func attention(_ v: GraphValue, _ s: WeightScope) throws -> GraphValue {
            try g.group("attn") {
                let split = { (p: GraphValue) in try g.permute(try g.reshape(p, [rows, heads, d]), [1, 0, 2]) }
                let o = try g.attention(q: try split(try linear(v, s.scope("q"))), k: try split(try linear(v, s.scope("k"))),
                                        v: try split(try linear(v, s.scope("v"))), scale: scale, fused: false)
                return try linear(try g.reshape(try g.permute(o, [1, 0, 2]), [rows, H]), s.scope("out"))
            }
        }
        func feedForward(_ v: GraphValue, _ s: WeightScope) throws -> GraphValue {
            try g.group("ff") { try linear(try g.gelu(try linear(v, s.scope("in"))), s.scope("out")) }
        }
        if !c.stableLayerNorm { h = try layerNorm(h, w.scope("encoder_norm")) }
        for i in 0..<c.numLayers {
            let p = w.scope("layers.\(i)")
            h = try g.group("layer\(i)") {
                if c.stableLayerNorm {
                    let a = try g.add(h, try attention(try layerNorm(h, p.scope("attn_norm")), p.scope("attn")))
                    return try g.add(a, try feedForward(try layerNorm(a, p.scope("ff_norm")), p.scope("ff")))
                }
                let a = try layerNorm(try g.add(h, try attention(h, p.scope("attn"))), p.scope("attn_norm"))
                return try layerNorm(try g.add(a, try feedForward(a, p.scope("ff"))), p.scope("ff_norm"))
            }
            try traced("layer\(i)", h)
        }
        if c.stableLayerNorm { h = try layerNorm(h, w.scope("encoder_norm")) }
        if trace && !c.stableLayerNorm {
            // The last layer is already an output; features are a copy under their own name.
            h = try g.gather(h, shape: [rows * H], strides: [1], label: "features")
        }
        try g.output("features", h)
        return try g.plan(GraphPlanOptions(timestamps: timestamps))
    }
}

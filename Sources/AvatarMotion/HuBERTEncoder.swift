public import AvatarOperators
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
public final class HuBERTEncoder: @unchecked Sendable {
    // @unchecked: the plan cache is confined to the thread that calls `encode` (see above).
    public let config: HuBERTConfig
    public let weights: HuBERTWeights
    public let ops: Operators
    /// Planned networks by (samples, trace), most recent last.
    private var plans: [(key: PlanKey, network: Network)] = []
    /// How many planned lengths are kept (each holds its own activation arena).
    public var maxPlans = 2
    /// GPU timestamps per step (for benchmarks).
    public var timestamps = false

    struct PlanKey: Equatable { var samples: Int; var trace: Bool }

    /// Rows of the positional conv's im2col handled per batched matmul (bounds its scratch to
    /// rows·hidden·kernel floats).
    static let positionalBlockRows = 256

    public init(weights: HuBERTWeights, ops: Operators) {
        self.config = weights.config
        self.weights = weights
        self.ops = ops
    }

    /// Intermediate values exposed by `trace` (the names of the reference's trace).
    public static func traceNames(layers: Int) -> [String] {
        ["extract", "projected", "positional"] + (0..<layers).map { "layer\($0)" }
    }

    /// One forward pass over already normalised samples: [rows, hidden] row-major, rows = `config.rows(samples:)`.
    public func encode(normalized samples: [Float]) throws -> [Float] {
        let network = try plan(samples: samples.count, trace: false)
        try network.tensor(named: "wave").write(samples)
        try network.run()
        return try network.tensor(named: "features").read()
    }

    /// Like `encode` and also returns the intermediates of `traceNames` plus "features".
    public func trace(normalized samples: [Float]) throws -> [String: [Float]] {
        let network = try plan(samples: samples.count, trace: true)
        try network.tensor(named: "wave").write(samples)
        try network.run()
        var out: [String: [Float]] = [:]
        for name in Self.traceNames(layers: config.numLayers) + ["features"] {
            out[name] = try network.tensor(named: name).read()
        }
        return out
    }

    /// GPU time per step of the last run (when `timestamps` was set before planning).
    public func lastStepTimings(samples: Int) -> [(label: String, seconds: Double)] {
        plans.last { $0.key.samples == samples }?.network.stepTimings() ?? []
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

    func plan(samples: Int, trace: Bool) throws -> Network {
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

    private func build(samples: Int, trace: Bool) throws -> Network {
        let c = config, ops = self.ops, w = weights
        let rows = c.rows(samples: samples)
        guard rows > 0 else {
            throw MotionModelError("hubert", "\(samples) samples are fewer than one receptive field (\(c.receptiveField))")
        }
        let b = NetworkBuilder()
        func value(_ name: String, _ shape: [Int]) -> NetworkBuilder.Value {
            trace ? b.output(name, shape: shape) : b.temporary(shape: shape)
        }
        func weight(_ name: String) throws -> (NetworkBuilder.Value, Tensor) {
            let t = try w.tensor(name)
            return (b.constant(t), t)
        }
        // Constants that must survive every run live as inputs (never shared); they are written after planning.
        var constantsToWrite: [(String, [Float])] = []

        // Feature extractor.
        var x = b.input("wave", shape: [samples, 1])
        var length = samples, cin = 1
        for (i, (cout, (k, s))) in zip(c.convDim, zip(c.convKernel, c.convStride)).enumerated() {
            let p = "feature_extractor.conv\(i)."
            let out = (length - k) / s + 1
            let (wv, wt) = try weight(p + "weight")
            let bias = c.convBias ? try weight(p + "bias") : nil
            let col = b.temporary(shape: [out, cin * k])
            let y = b.temporary(shape: [out, cout])
            let (src, srcChannels) = (x, cin)
            b.step("conv\(i).im2col", reads: [src], writes: [col]) { seq, t in
                try ops.copy(seq, x: t[src].storage, y: t[col].storage, shape: [out, srcChannels, k],
                             srcStrides: [s * srcChannels, 1, srcChannels], dstStrides: [srcChannels * k, k, 1])
            }
            b.step("conv\(i).matmul", reads: [col, wv] + (bias.map { [$0.0] } ?? []), writes: [y]) { seq, t in
                try ops.matmul(seq, a: t[col].storage, b: wt.storage, bias: bias.map { t[$0.0].storage }, c: t[y].storage,
                               m: out, n: cout, k: srcChannels * k, transposeB: true)
            }
            let activated = i == c.convDim.count - 1 ? value("extract", [out, cout]) : b.temporary(shape: [out, cout])
            if c.featureNorm == .layer {
                let (gv, gt) = try weight(p + "norm.weight"), (bv, bt) = try weight(p + "norm.bias")
                let normed = b.temporary(shape: [out, cout])
                let eps = c.convNormEps
                b.step("conv\(i).norm", reads: [y, gv, bv], writes: [normed]) { seq, t in
                    try ops.layerNorm(seq, x: t[y].storage, gamma: gt.storage, beta: bt.storage, y: t[normed].storage,
                                      rows: out, d: cout, eps: eps)
                }
                b.step("conv\(i).gelu", reads: [normed], writes: [activated]) { seq, t in
                    try ops.activation(seq, .gelu, x: t[normed].storage, y: t[activated].storage, count: out * cout)
                }
            } else if i == 0 {
                // GroupNorm with one group per channel: normalise each channel over time, channel-major.
                let (gv, gt) = try weight(p + "norm.weight"), (bv, bt) = try weight(p + "norm.bias")
                let ones = b.input("conv0.ones", shape: [out])
                constantsToWrite.append(("conv0.ones", [Float](repeating: 1, count: out)))
                let channelMajor = b.temporary(shape: [cout, out])
                let normed = b.temporary(shape: [cout, out])
                let eps = c.convNormEps
                b.step("conv0.groupnorm", reads: [y, ones, gv, bv], writes: [channelMajor, normed, activated]) { seq, t in
                    try ops.permute(seq, x: t[y].storage, y: t[channelMajor].storage, shape: [out, cout], order: [1, 0])
                    try ops.layerNorm(seq, x: t[channelMajor].storage, gamma: t[ones].storage, beta: nil, y: t[normed].storage,
                                      rows: cout, d: out, eps: eps)
                    try ops.scaleShift(seq, x: t[normed].storage, scale: gt.storage, shift: bt.storage, y: t[channelMajor].storage,
                                       count: cout * out, channels: cout, inner: out)
                    try ops.activation(seq, .gelu, x: t[channelMajor].storage, y: t[normed].storage, count: cout * out)
                    try ops.permute(seq, x: t[normed].storage, y: t[activated].storage, shape: [cout, out], order: [1, 0])
                }
            } else {
                b.step("conv\(i).gelu", reads: [y], writes: [activated]) { seq, t in
                    try ops.activation(seq, .gelu, x: t[y].storage, y: t[activated].storage, count: out * cout)
                }
            }
            x = activated
            length = out
            cin = cout
        }
        let T = length, H = c.hiddenSize
        guard T == rows else { throw MotionModelError("hubert", "feature extractor gave \(T) rows, expected \(rows)") }

        // Feature projection.
        var projIn = x
        if c.featureProjectionLayerNorm {
            let (gv, gt) = try weight("feature_projection.norm.weight"), (bv, bt) = try weight("feature_projection.norm.bias")
            let normed = b.temporary(shape: [T, cin])
            let (src, channels, eps) = (x, cin, c.layerNormEps)
            b.step("projection.norm", reads: [src, gv, bv], writes: [normed]) { seq, t in
                try ops.layerNorm(seq, x: t[src].storage, gamma: gt.storage, beta: bt.storage, y: t[normed].storage,
                                  rows: T, d: channels, eps: eps)
            }
            projIn = normed
        }
        let projected = value("projected", [T, H])
        do {
            let (wv, wt) = try weight("feature_projection.linear.weight"), (bv, bt) = try weight("feature_projection.linear.bias")
            let src = projIn
            b.step("projection.linear", reads: [src, wv, bv], writes: [projected]) { seq, t in
                try ops.linear(seq, x: t[src].storage, weight: wt, bias: bt.storage, y: t[projected].storage, rows: T)
            }
        }

        // Positional conv: h + gelu(conv(h) + b), zero padding K/2 each side, output rows 0..<T (drops the last
        // frame for even kernels).
        let K = c.posConvKernel, G = c.posConvGroups, Cg = H / G, half = K / 2
        let padded = b.input("pos.padded", shape: [T + 2 * half, H])
        constantsToWrite.append(("pos.padded", [Float](repeating: 0, count: (T + 2 * half) * H)))
        let (pwv, pwt) = try weight("pos_conv.weight"), (pbv, pbt) = try weight("pos_conv.bias")
        b.step("pos.pad", reads: [projected], writes: [padded]) { seq, t in
            try ops.copy(seq, x: t[projected].storage, y: t[padded].storage, shape: [T, H], srcStrides: [H, 1], dstStrides: [H, 1],
                         dstOffset: half * H)
        }
        let blockRows = min(T, Self.positionalBlockRows)
        let col = b.temporary(shape: [G, blockRows, Cg * K])
        let blockOut = b.temporary(shape: [G, blockRows, Cg])
        let conv = b.temporary(shape: [T, H])
        var t0 = 0
        while t0 < T {
            let tb = min(blockRows, T - t0), start = t0
            b.step("pos.im2col[\(start)]", reads: [padded], writes: [col]) { seq, t in
                try ops.copy(seq, x: t[padded].storage, y: t[col].storage, shape: [G, tb, Cg, K], srcStrides: [Cg, H, 1, H],
                             dstStrides: [tb * Cg * K, Cg * K, K, 1], srcOffset: start * H)
            }
            b.step("pos.matmul[\(start)]", reads: [col, pwv], writes: [blockOut]) { seq, t in
                try ops.matmul(seq, a: t[col].storage, b: pwt.storage, c: t[blockOut].storage, m: tb, n: Cg, k: Cg * K,
                               batch: G, transposeB: true, batchStrideB: Cg * Cg * K)
            }
            b.step("pos.scatter[\(start)]", reads: [blockOut] + (start == 0 ? [] : [conv]), writes: [conv]) { seq, t in
                try ops.copy(seq, x: t[blockOut].storage, y: t[conv].storage, shape: [G, tb, Cg], srcStrides: [tb * Cg, Cg, 1],
                             dstStrides: [Cg, H, 1], dstOffset: start * H)
            }
            t0 += tb
        }
        let positional = value("positional", [T, H])
        do {
            let biased = b.temporary(shape: [T, H])
            b.step("pos.gelu", reads: [conv, pbv, projected], writes: [biased, conv, positional]) { seq, t in
                try ops.binary(seq, .add, a: t[conv].storage, b: pbt.storage, y: t[biased].storage, count: T * H, broadcast: H)
                try ops.activation(seq, .gelu, x: t[biased].storage, y: t[conv].storage, count: T * H)
                try ops.binary(seq, .add, a: t[projected].storage, b: t[conv].storage, y: t[positional].storage, count: T * H)
            }
        }

        // Encoder.
        let eps = c.layerNormEps
        func layerNorm(_ label: String, _ src: NetworkBuilder.Value, _ name: String, into dst: NetworkBuilder.Value? = nil) throws
            -> NetworkBuilder.Value {
            let (gv, gt) = try weight(name + ".weight"), (bv, bt) = try weight(name + ".bias")
            let y = dst ?? b.temporary(shape: [T, H])
            b.step(label, reads: [src, gv, bv], writes: [y]) { seq, t in
                try ops.layerNorm(seq, x: t[src].storage, gamma: gt.storage, beta: bt.storage, y: t[y].storage, rows: T, d: H, eps: eps)
            }
            return y
        }
        func linear(_ label: String, _ src: NetworkBuilder.Value, _ name: String, out: Int) throws -> NetworkBuilder.Value {
            let (wv, wt) = try weight(name + ".weight"), (bv, bt) = try weight(name + ".bias")
            let y = b.temporary(shape: [T, out])
            b.step(label, reads: [src, wv, bv], writes: [y]) { seq, t in
                try ops.linear(seq, x: t[src].storage, weight: wt, bias: bt.storage, y: t[y].storage, rows: T)
            }
            return y
        }
        func add(_ label: String, _ a: NetworkBuilder.Value, _ r: NetworkBuilder.Value, into dst: NetworkBuilder.Value? = nil)
            -> NetworkBuilder.Value {
            let y = dst ?? b.temporary(shape: [T, H])
            b.step(label, reads: [a, r], writes: [y]) { seq, t in
                try ops.binary(seq, .add, a: t[a].storage, b: t[r].storage, y: t[y].storage, count: T * H)
            }
            return y
        }
        let heads = c.numHeads, d = c.headDim
        let scale = Float(1.0 / Double(d).squareRoot())
        func attention(_ p: String, _ src: NetworkBuilder.Value) throws -> NetworkBuilder.Value {
            let q = try linear(p + "q", src, p + "attn.q", out: H)
            let k = try linear(p + "k", src, p + "attn.k", out: H)
            let v = try linear(p + "v", src, p + "attn.v", out: H)
            let qh = b.temporary(shape: [heads, T, d]), kh = b.temporary(shape: [heads, T, d]), vh = b.temporary(shape: [heads, T, d])
            b.step(p + "heads", reads: [q, k, v], writes: [qh, kh, vh]) { seq, t in
                for (from, to) in [(q, qh), (k, kh), (v, vh)] {
                    try ops.permute(seq, x: t[from].storage, y: t[to].storage, shape: [T, heads, d], order: [1, 0, 2])
                }
            }
            let scores = b.temporary(shape: [heads, T, T])
            let oh = b.temporary(shape: [heads, T, d]), o = b.temporary(shape: [T, H])
            b.step(p + "attention", reads: [qh, kh, vh], writes: [scores, oh, o]) { seq, t in
                try ops.attention(seq, q: t[qh].storage, k: t[kh].storage, v: t[vh].storage, out: t[oh].storage,
                                  scores: t[scores].storage, heads: heads, queries: T, keys: T, headDim: d, scale: scale, fused: false)
                try ops.permute(seq, x: t[oh].storage, y: t[o].storage, shape: [heads, T, d], order: [1, 0, 2])
            }
            return try linear(p + "out", o, p + "attn.out", out: H)
        }
        func feedForward(_ p: String, _ src: NetworkBuilder.Value) throws -> NetworkBuilder.Value {
            let inner = try linear(p + "ff.in", src, p + "ff.in", out: c.intermediateSize)
            let activated = b.temporary(shape: [T, c.intermediateSize])
            let n = T * c.intermediateSize
            b.step(p + "ff.gelu", reads: [inner], writes: [activated]) { seq, t in
                try ops.activation(seq, .gelu, x: t[inner].storage, y: t[activated].storage, count: n)
            }
            return try linear(p + "ff.out", activated, p + "ff.out", out: H)
        }

        var h = positional
        if !c.stableLayerNorm { h = try layerNorm("encoder_norm", h, "encoder_norm") }
        for i in 0..<c.numLayers {
            let p = "layers.\(i)."
            let layerOut: NetworkBuilder.Value? = trace ? value("layer\(i)", [T, H]) : nil
            if c.stableLayerNorm {
                let a = try attention(p, try layerNorm(p + "attn_norm", h, p + "attn_norm"))
                h = add(p + "attn.residual", h, a)
                let f = try feedForward(p, try layerNorm(p + "ff_norm", h, p + "ff_norm"))
                h = add(p + "ff.residual", h, f, into: layerOut)
            } else {
                let a = try attention(p, h)
                h = try layerNorm(p + "attn_norm", add(p + "attn.residual", h, a), p + "attn_norm")
                let f = try feedForward(p, h)
                h = try layerNorm(p + "ff_norm", add(p + "ff.residual", h, f), p + "ff_norm", into: layerOut)
            }
        }
        let features = b.output("features", shape: [T, H])
        if c.stableLayerNorm {
            _ = try layerNorm("final_norm", h, "encoder_norm", into: features)
        } else {
            b.step("output", reads: [h], writes: [features]) { seq, t in
                try ops.copy(seq, x: t[h].storage, y: t[features].storage, shape: [T * H], srcStrides: [1], dstStrides: [1])
            }
        }
        let network = try b.plan(device: ops.device, timestamps: timestamps)
        for (name, values) in constantsToWrite { try network.tensor(named: name).write(values) }
        return network
    }
}

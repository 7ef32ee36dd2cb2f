import AvatarOperators
import AvatarVulkan

/// One caller's networks over an `ICSA2MModel` (a session's, or a test's): the audio-condition network and the
/// velocity network, each planned once per sequence length and replayed. Run it from one thread at a time
/// (the session's render thread); the GPU work is synchronous.
///
/// A streaming session uses one length; full-window sessions and the reference's growing windows use many, so
/// only the `maxPlans` most recently used networks of each kind are kept (each holds device memory).
public final class ICSA2MRunner {
    public let model: ICSA2MModel
    public static let maxPlans = 6
    private var conditionNets: [Int: Network] = [:]
    private var velocityNets: [Int: Network] = [:]
    private var conditionOrder: [Int] = []
    private var velocityOrder: [Int] = []

    /// GPU timestamps on every planned step (benchmarks; `velocityStepSeconds`).
    public let timestamps: Bool
    private var lastVelocity: Network?

    public init(model: ICSA2MModel, timestamps: Bool = false) {
        self.model = model
        self.timestamps = timestamps
    }

    /// GPU seconds of the last velocity evaluation per step kind (layer index dropped: "qkv", "attn", "ff", …);
    /// empty unless planned with `timestamps`.
    public func velocityStepSeconds() -> [String: Double] {
        var out: [String: Double] = [:]
        for (label, seconds) in lastVelocity?.stepTimings() ?? [] {
            let kind = label.split(separator: ".", maxSplits: 1).count == 2 && label.hasPrefix("l") && label.dropFirst().first?.isNumber == true
                ? String(label.split(separator: ".", maxSplits: 1)[1]) : label
            out[kind, default: 0] += seconds
        }
        return out
    }

    /// Audio features [2N, audio_dim] → (audio embedding [2N, audio_hidden], condition [N, motion_dim]):
    /// conv k3 (BN folded) → GELU → conv k3 → cond_proj, then the mean of row pairs (50 → 25 Hz).
    public func condition(features: [Float]) throws -> (audio: [Float], condition: [Float]) {
        let c = model.config
        let rows = features.count / c.audioDim
        guard rows > 0, rows % 2 == 0, rows * c.audioDim == features.count else {
            throw MotionModelError("ics_a2m", "condition needs an even number of \(c.audioDim)-wide feature rows, got \(features.count) values")
        }
        let net = try conditionNets[rows] ?? planCondition(rows: rows)
        Self.remember(net, key: rows, in: &conditionNets, order: &conditionOrder)
        // Tap-stacked rows for the first k3 conv ("same" zero padding).
        let a = c.audioDim
        var taps = [Float](repeating: 0, count: rows * 3 * a)
        features.withUnsafeBufferPointer { x in
            taps.withUnsafeMutableBufferPointer { y in
                for t in 0..<rows {
                    for k in 0..<3 where t + k - 1 >= 0 && t + k - 1 < rows {
                        let src = (t + k - 1) * a, dst = t * 3 * a + k * a
                        for i in 0..<a { y[dst + i] = x[src + i] }
                    }
                }
            }
        }
        try net.tensor(named: "features").write(taps)
        try net.run()
        let audio = try net.tensor(named: "audio").read()
        let projected = try net.tensor(named: "cond").read()
        let m = c.motionDim
        var cond = [Float](repeating: 0, count: rows / 2 * m)
        for t in 0..<(rows / 2) {
            for j in 0..<m { cond[t * m + j] = 0.5 * (projected[2 * t * m + j] + projected[(2 * t + 1) * m + j]) }
        }
        return (audio, cond)
    }

    /// One evaluation of the transformer for `sequences` (1, or 2 for the CFG pair) stacked inputs
    /// [sequences·N, 3·motion_dim] = [x·mask ‖ cond_emb ‖ prompt] at time t → velocities [sequences·N, motion_dim].
    public func velocity(inputs: [Float], sequences: Int, rows n: Int, t: Float) throws -> [Float] {
        let m = model.config.motionDim
        guard sequences == 1 || sequences == 2, n > 0, inputs.count == sequences * n * 3 * m else {
            throw MotionModelError("ics_a2m", "velocity needs 1 or 2 sequences of \(n) rows × \(3 * m) inputs, got \(inputs.count) values for \(sequences)")
        }
        let key = sequences * 1_000_000 + n
        let net = try velocityNets[key] ?? planVelocity(sequences: sequences, rows: n)
        Self.remember(net, key: key, in: &velocityNets, order: &velocityOrder)
        try net.tensor(named: "x").write(inputs)
        try net.tensor(named: "ada").write(model.adaptiveNorms(t))
        try net.run()
        lastVelocity = net
        return try net.tensor(named: "v").read()
    }

    /// Networks planned so far that are still kept (both kinds).
    public var plannedNetworks: Int { conditionNets.count + velocityNets.count }

    private static func remember(_ net: Network, key: Int, in nets: inout [Int: Network], order: inout [Int]) {
        nets[key] = net
        order.removeAll { $0 == key }
        order.append(key)
        while order.count > maxPlans { nets[order.removeFirst()] = nil }
    }

    // MARK: planning

    private func planCondition(rows: Int) throws -> Network {
        let c = model.config, ops = model.ops, a = c.audioDim, hd = c.audioHidden
        let b = NetworkBuilder()
        // "features" holds tap-stacked rows [x_{t−1} ‖ x_t ‖ x_{t+1}] (zeros outside), written by the host.
        let x3 = b.input("features", shape: [rows, 3 * a])
        // Tap-stacked hidden rows; an input so its zero borders (never written by the copies) persist.
        let h3 = b.input("hidden_taps", shape: [rows, 3 * hd])
        let h0 = b.temporary(shape: [rows, hd])
        let audio = b.output("audio", shape: [rows, hd])
        let cond = b.output("cond", shape: [rows, c.motionDim])
        let w0 = b.constant(model.audioConv0), b0 = b.constant(try model.weight("audio_encoder.conv0.bias"))
        let w1 = b.constant(model.audioConv1)
        let wp = b.constant(try model.weight("cond_proj.weight")), bp = b.constant(try model.weight("cond_proj.bias"))
        b.step("conv0", reads: [x3, w0, b0], writes: [h0, h3]) { seq, t in
            try ops.linear(seq, x: t[x3].storage, weight: t[w0], bias: t[b0].storage, y: t[h0].storage, rows: rows)
            try ops.activation(seq, .gelu, x: t[h0].storage, y: t[h0].storage, count: rows * hd)
            let h = t[h0].storage, taps = t[h3].storage
            try ops.copy(seq, x: h, y: taps, shape: [rows - 1, hd], srcStrides: [hd, 1], dstStrides: [3 * hd, 1], dstOffset: 3 * hd, barrier: false)
            try ops.copy(seq, x: h, y: taps, shape: [rows, hd], srcStrides: [hd, 1], dstStrides: [3 * hd, 1], dstOffset: hd, barrier: false)
            try ops.copy(seq, x: h, y: taps, shape: [rows - 1, hd], srcStrides: [hd, 1], dstStrides: [3 * hd, 1], srcOffset: hd, dstOffset: 2 * hd)
        }
        b.step("conv1", reads: [h3, w1, wp, bp], writes: [audio, cond]) { seq, t in
            try ops.linear(seq, x: t[h3].storage, weight: t[w1], y: t[audio].storage, rows: rows)
            try ops.linear(seq, x: t[audio].storage, weight: t[wp], bias: t[bp].storage, y: t[cond].storage, rows: rows)
        }
        let net = try b.plan(device: model.device, timestamps: timestamps)
        try net.tensor(named: "hidden_taps").write([Float](repeating: 0, count: rows * 3 * hd))
        return net
    }

    private func planVelocity(sequences s: Int, rows n: Int) throws -> Network {
        let c = model.config, ops = model.ops
        let d = c.dim, m = c.motionDim, r = c.registers, l = r + n
        let heads = c.heads, dh = c.dimHead, hd = heads * dh, ff = model.ffWidth
        let b = NetworkBuilder()
        let x = b.input("x", shape: [s * n, 3 * m])
        let ada = b.input("ada", shape: [c.depth * 4 * d])
        let cosT = b.input("cos", shape: [l, dh / 2]), sinT = b.input("sin", shape: [l, dh / 2])
        let v = b.output("v", shape: [s * n, m])

        // Input embedding and the depthwise conv over time (per sequence: groups = sequences·dim).
        let h0 = b.temporary(shape: [s * n, d])
        let ht = b.temporary(shape: [s * d, n]), hc = b.temporary(shape: [s * d, n])
        let h1 = b.temporary(shape: [s * n, d])
        let h = b.temporary(shape: [s * l, d])
        let wi = b.constant(try model.weight("input_proj.weight")), bi = b.constant(try model.weight("input_proj.bias"))
        guard let conv = model.convEmbed[s] else { throw MotionModelError("ics_a2m", "no depthwise conv weights for \(s) sequences") }
        let wc = b.constant(conv.weight), bc = b.constant(conv.bias)
        b.step("input_proj", reads: [x, wi, bi], writes: [h0]) { seq, t in
            try ops.linear(seq, x: t[x].storage, weight: t[wi], bias: t[bi].storage, y: t[h0].storage, rows: s * n)
        }
        b.step("conv_embed", reads: [h0, wc, bc], writes: [ht, hc, h1]) { seq, t in
            try ops.permute(seq, x: t[h0].storage, y: t[ht].storage, shape: [s, n, d], order: [0, 2, 1])
            try ops.conv1d(seq, x: t[ht].storage, weight: t[wc].storage, bias: t[bc].storage, y: t[hc].storage,
                           cin: s * d, length: n, cout: s * d, kernel: c.convKernel, padding: c.convKernel / 2, groups: s * d)
            try ops.activation(seq, .gelu, x: t[hc].storage, y: t[hc].storage, count: s * d * n)
            try ops.permute(seq, x: t[hc].storage, y: t[h1].storage, shape: [s, d, n], order: [0, 2, 1])
            try ops.binary(seq, .add, a: t[h1].storage, b: t[h0].storage, y: t[h1].storage, count: s * n * d)
        }
        var registerValue: NetworkBuilder.Value?
        if r > 0 { registerValue = b.constant(try model.weight("registers")) }
        b.step("registers", reads: [h1] + (registerValue.map { [$0] } ?? []), writes: [h]) { seq, t in
            if let rv = registerValue {
                try ops.copy(seq, x: t[rv].storage, y: t[h].storage, shape: [s, r, d], srcStrides: [0, d, 1], dstStrides: [l * d, d, 1])
            }
            try ops.copy(seq, x: t[h1].storage, y: t[h].storage, shape: [s, n, d], srcStrides: [n * d, d, 1],
                         dstStrides: [l * d, d, 1], dstOffset: r * d)
        }

        // Transformer layers. Norms run one invocation per row (row_norm.comp: no barriers, cheap on lavapipe).
        let a = b.temporary(shape: [s * l, d])
        let qkv = b.temporary(shape: [s * l, 3 * hd])
        let qr = b.temporary(shape: [s * heads * l, dh]), kr = b.temporary(shape: [s * heads * l, dh])
        let vv = b.temporary(shape: [s * heads * l, dh])
        let att = b.temporary(shape: [s * heads * l, dh]), attP = b.temporary(shape: [s * l, hd])
        let o = b.temporary(shape: [s * l, d])
        let f2 = b.temporary(shape: [s * l, 2 * ff]), g = b.temporary(shape: [s * l, ff])
        let rows = s * l
        let rootD = Float(Double(d).squareRoot()), rootDh = Float(Double(dh).squareRoot())
        for i in 0..<c.depth {
            let p = "layers.\(i)."
            let wqkv = b.constant(try model.weight(p + "attn.qkv.weight")), wo = b.constant(try model.weight(p + "attn.out.weight"))
            let qg = b.constant(try model.weight(p + "attn.q_norm")), kg = b.constant(try model.weight(p + "attn.k_norm"))
            let ffw = try model.feedForward(i)
            let wf1 = b.constant(ffw.inWeight), bf1 = b.constant(ffw.inBias)
            let wf2 = b.constant(ffw.outWeight), bf2 = b.constant(try model.weight(p + "ff.out.bias"))
            let base = i * 4 * d * 4
            // AdaRMS, qkv; q and k normalised per head (·γ·√dh) and rotated straight out of the qkv rows
            // into [s, heads, l, dh]; v gathered into the same layout.
            b.step("l\(i).qkv", reads: [h, ada, wqkv, qg, kg, cosT, sinT], writes: [a, qkv, qr, kr, vv]) { seq, t in
                let adaS = t[ada].storage
                let gamma = try adaS.subslice(byteOffset: base, byteCount: d * 4)
                let beta = try adaS.subslice(byteOffset: base + d * 4, byteCount: d * 4)
                try ops.rowL2Norm(seq, x: t[h].storage, gamma: gamma, beta: beta, y: t[a].storage, rows: rows, d: d, scale: rootD, eps: c.normEps)
                try ops.linear(seq, x: t[a].storage, weight: t[wqkv], y: t[qkv].storage, rows: rows)
                for (j, dst, gain) in [(0, qr, qg), (1, kr, kg)] {
                    try ops.qkNormRotary(seq, qkv: t[qkv].storage, gamma: t[gain].storage, cos: t[cosT].storage, sin: t[sinT].storage,
                                         y: t[dst].storage, sequences: s, heads: heads, length: l, headDim: dh, rowStride: 3 * hd,
                                         offset: j * hd, scale: rootDh, eps: c.normEps)
                }
                try ops.copy(seq, x: t[qkv].storage, y: t[vv].storage, shape: [s, heads, l, dh],
                             srcStrides: [l * 3 * hd, dh, 3 * hd, 1], dstStrides: [heads * l * dh, l * dh, dh, 1], srcOffset: 2 * hd)
            }
            b.step("l\(i).attn", reads: [qr, kr, vv, wo, h], writes: [att, attP, o, h]) { seq, t in
                try ops.attention(seq, q: t[qr].storage, k: t[kr].storage, v: t[vv].storage, out: t[att].storage,
                                  heads: s * heads, queries: l, keys: l, headDim: dh, scale: c.attnScale)
                try ops.permute(seq, x: t[att].storage, y: t[attP].storage, shape: [s, heads, l, dh], order: [0, 2, 1, 3])
                try ops.linear(seq, x: t[attP].storage, weight: t[wo], y: t[o].storage, rows: rows)
                try ops.binary(seq, .add, a: t[h].storage, b: t[o].storage, y: t[h].storage, count: rows * d)
            }
            b.step("l\(i).ff", reads: [h, ada, wf1, bf1, wf2, bf2], writes: [a, f2, g, o, h]) { seq, t in
                let adaS = t[ada].storage
                let gamma = try adaS.subslice(byteOffset: base + 2 * d * 4, byteCount: d * 4)
                let beta = try adaS.subslice(byteOffset: base + 3 * d * 4, byteCount: d * 4)
                try ops.rowL2Norm(seq, x: t[h].storage, gamma: gamma, beta: beta, y: t[a].storage, rows: rows, d: d, scale: rootD, eps: c.normEps)
                try ops.linear(seq, x: t[a].storage, weight: t[wf1], bias: t[bf1].storage, y: t[f2].storage, rows: rows)
                try ops.geglu(seq, x: t[f2].storage, y: t[g].storage, rows: rows, d: ff)
                try ops.linear(seq, x: t[g].storage, weight: t[wf2], bias: t[bf2].storage, y: t[o].storage, rows: rows)
                try ops.binary(seq, .add, a: t[h].storage, b: t[o].storage, y: t[h].storage, count: rows * d)
            }
        }

        // Output: drop the registers, final norm, projection.
        let hf = b.temporary(shape: [s * n, d]), hn = b.temporary(shape: [s * n, d])
        let fg = b.constant(try model.weight("final_norm.gamma")), wout = b.constant(try model.weight("output_proj.weight"))
        b.step("output", reads: [h, fg, wout], writes: [hf, hn, v]) { seq, t in
            try ops.copy(seq, x: t[h].storage, y: t[hf].storage, shape: [s, n, d], srcStrides: [l * d, d, 1],
                         dstStrides: [n * d, d, 1], srcOffset: r * d)
            try ops.rowL2Norm(seq, x: t[hf].storage, gamma: t[fg].storage, y: t[hn].storage, rows: s * n, d: d, scale: rootD, eps: c.normEps)
            try ops.linear(seq, x: t[hn].storage, weight: t[wout], y: t[v].storage, rows: s * n)
        }

        let net = try b.plan(device: model.device, timestamps: timestamps)
        let tables = model.rotaryTables(rows: n)
        try net.tensor(named: "cos").write(tables.cos)
        try net.tensor(named: "sin").write(tables.sin)
        return net
    }
}

public import AvatarGraph
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
    private var conditionNets: [Int: GraphNetwork] = [:]
    private var velocityNets: [Int: GraphNetwork] = [:]
    private var conditionOrder: [Int] = []
    private var velocityOrder: [Int] = []

    /// GPU timestamps on every planned step (benchmarks; `velocityStepSeconds`).
    public let timestamps: Bool
    /// Element type of the intermediate activations (`.float16`: fp16 storage, fp32 arithmetic; see docs/engine.md).
    public let activations: GraphElementType
    private var lastVelocity: GraphNetwork?

    public init(model: ICSA2MModel, timestamps: Bool = false, activations: GraphElementType = .float32) {
        self.model = model
        self.timestamps = timestamps
        self.activations = activations
    }

    /// GPU seconds of the last velocity evaluation per group kind ("qkv", "attn", "ff", "input", "output"; the layer
    /// index dropped); empty unless planned with `timestamps`.
    public func velocityStepSeconds() -> [String: Double] {
        var out: [String: Double] = [:]
        for (label, seconds) in lastVelocity?.timings() ?? [] {
            let parts = label.split(separator: "/")
            let kind = parts.count >= 2 && parts[0].hasPrefix("layer") ? String(parts[1]) : String(parts.first ?? "")
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
        try net.write("features", features)
        try net.run()
        let audio = try net.read("audio")
        let projected = try net.read("cond")
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
        try net.write("x", inputs)
        try net.write("ada", model.adaptiveNorms(t))
        try net.run()
        lastVelocity = net
        return try net.read("v")
    }

    /// Networks planned so far that are still kept (both kinds).
    public var plannedNetworks: Int { conditionNets.count + velocityNets.count }

    /// Activation arena bytes of the kept networks.
    public var arenaBytes: Int { (conditionNets.values.map(\.planBytes) + velocityNets.values.map(\.planBytes)).reduce(0, +) }

    private static func remember(_ net: GraphNetwork, key: Int, in nets: inout [Int: GraphNetwork], order: inout [Int]) {
        nets[key] = net
        order.removeAll { $0 == key }
        order.append(key)
        while order.count > maxPlans { nets[order.removeFirst()] = nil }
    }

    // MARK: planning

    /// The audio encoder: two k3 "same" convs, each a linear over channel-major time taps against the conv
    /// weight as stored ([out, in, 3] seen as [out, 3·in]), GELU between, then cond_proj.
    private func planCondition(rows: Int) throws -> GraphNetwork {
        let c = model.config
        let g = try Graph(name: "ics_a2m.condition", ops: model.ops, activations: activations)
        let w = g.weights(model.weights)
        let x = try g.input("features", [rows, c.audioDim])
        func conv(_ v: GraphValue, _ name: String, bias: Bool) throws -> GraphValue {
            let cin = v.shape[1]
            let taps = try g.gather(try g.padRows(v, before: 1, after: 1), shape: [rows, cin, 3], strides: [cin, 1, cin], label: "taps")
            let weight = try g.reshape(try w.weight("audio_encoder.\(name).weight", [c.audioHidden, cin, 3]), [c.audioHidden, 3 * cin])
            return try g.linear(try g.reshape(taps, [rows, 3 * cin]), weight,
                                bias: bias ? try w.weight("audio_encoder.\(name).bias", [c.audioHidden]) : nil)
        }
        let h = try g.gelu(try conv(x, "conv0", bias: true))
        let audio = try conv(h, "conv1", bias: false)
        let cond = try g.linear(audio, try w.weight("cond_proj.weight", [c.motionDim, c.audioHidden]),
                                bias: try w.weight("cond_proj.bias", [c.motionDim]))
        try g.output("audio", audio)
        try g.output("cond", cond)
        return try g.plan(GraphPlanOptions(timestamps: timestamps))
    }

    /// The velocity transformer over `s` stacked sequences of `n` rows.
    private func planVelocity(sequences s: Int, rows n: Int) throws -> GraphNetwork {
        let c = model.config
        let d = c.dim, m = c.motionDim, r = c.registers, l = r + n
        let heads = c.heads, dh = c.dimHead, hd = heads * dh
        let g = try Graph(name: "ics_a2m.velocity", ops: model.ops, activations: activations)
        let w = g.weights(model.weights)
        let x = try g.input("x", [s * n, 3 * m])
        // γ(t), β(t) of the adaptive norms are parameters, read as fp32 whatever the activations.
        let ada = try g.input("ada", [c.depth * 4 * d], .float32)
        let tables = model.rotaryTables(rows: n)
        let cosT = try g.constant("cos", values: tables.cos, shape: [l, dh / 2])
        let sinT = try g.constant("sin", values: tables.sin, shape: [l, dh / 2])
        let rootD = Float(Double(d).squareRoot()), rootDh = Float(Double(dh).squareRoot())
        let convWeight = try g.reshape(try w.weight("conv_embed.weight", [d, c.convKernel]), [d, 1, c.convKernel])
        let convBias = try w.weight("conv_embed.bias", [d])

        // Input embedding, the depthwise conv over time (per sequence: groups = sequences·dim), registers in front.
        var h = try g.group("input") { () throws -> GraphValue in
            let h0 = try g.linear(x, try w.weight("input_proj.weight", [d, 3 * m]), bias: try w.weight("input_proj.bias", [d]))
            // Depthwise conv over time, per sequence (the CFG pair shares the weights).
            let ht = try g.permute(try g.reshape(h0, [s, n, d]), [0, 2, 1])
            let convolved = try (0..<s).map { j in
                try g.conv1d(try g.view(ht, elementOffset: j * d * n, shape: [d, n]), weight: convWeight, bias: convBias,
                             padding: c.convKernel / 2, groups: d)
            }
            let hc = try g.gelu(s == 1 ? convolved[0] : try g.concat(convolved, axis: 0))
            let h1 = try g.add(try g.permute(try g.reshape(hc, [s, d, n]), [0, 2, 1]), try g.reshape(h0, [s, n, d]))
            guard r > 0 else { return try g.reshape(h1, [s * l, d]) }
            let registers = try g.gather(try w.weight("registers", [r, d]), shape: [s, r, d], strides: [0, d, 1])
            return try g.reshape(try g.concat([registers, h1], axis: 1), [s * l, d])
        }

        // Transformer layers: AdaRMS (γ(t), β(t) from `ada`), attention with per-head q/k norms and rotary, GEGLU FF.
        for i in 0..<c.depth {
            let ws = w.scope("layers.\(i)")
            let base = i * 4 * d
            let ff = c.ffInner
            h = try g.group("layers.\(i)") {
                let qkv = try g.group("qkv") { () throws -> (GraphValue, GraphValue, GraphValue) in
                    let a = try g.rowL2Norm(h, gamma: try g.view(ada, elementOffset: base, shape: [d]),
                                            beta: try g.view(ada, elementOffset: base + d, shape: [d]), scale: rootD, eps: c.normEps)
                    let qkv = try g.linear(a, try ws.weight("attn.qkv.weight", [3 * hd, d]))
                    let q = try g.qkNormRotary(qkv, gamma: try ws.weight("attn.q_norm", [heads, dh]), cos: cosT, sin: sinT, sequences: s,
                                               heads: heads, headDim: dh, offset: 0, scale: rootDh, eps: c.normEps)
                    let k = try g.qkNormRotary(qkv, gamma: try ws.weight("attn.k_norm", [heads, dh]), cos: cosT, sin: sinT, sequences: s,
                                               heads: heads, headDim: dh, offset: hd, scale: rootDh, eps: c.normEps)
                    let v = try g.gather(qkv, shape: [s, heads, l, dh], strides: [l * 3 * hd, dh, 3 * hd, 1], offset: 2 * hd)
                    return (q, k, v)
                }
                let h2 = try g.group("attn") {
                    let o = try g.attention(q: try g.reshape(qkv.0, [s * heads, l, dh]), k: try g.reshape(qkv.1, [s * heads, l, dh]),
                                            v: try g.reshape(qkv.2, [s * heads, l, dh]), scale: c.attnScale, fused: true)
                    let merged = try g.reshape(try g.permute(try g.reshape(o, [s, heads, l, dh]), [0, 2, 1, 3]), [s * l, hd])
                    return try g.add(h, try g.linear(merged, try ws.weight("attn.out.weight", [d, hd])))
                }
                return try g.group("ff") {
                    let a = try g.rowL2Norm(h2, gamma: try g.view(ada, elementOffset: base + 2 * d, shape: [d]),
                                            beta: try g.view(ada, elementOffset: base + 3 * d, shape: [d]), scale: rootD, eps: c.normEps)
                    let inner = try g.geglu(try g.linear(a, try ws.weight("ff.in.weight", [2 * ff, d]), bias: try ws.weight("ff.in.bias", [2 * ff])))
                    return try g.add(h2, try g.linear(inner, try ws.weight("ff.out.weight", [d, ff]), bias: try ws.weight("ff.out.bias", [d])))
                }
            }
        }

        // Output: drop the registers, final norm, projection.
        let v = try g.group("output") {
            let hf = try g.gather(h, shape: [s, n, d], strides: [l * d, d, 1], offset: r * d)
            let hn = try g.rowL2Norm(try g.reshape(hf, [s * n, d]), gamma: try w.weight("final_norm.gamma", [d]), scale: rootD, eps: c.normEps)
            return try g.linear(hn, try w.weight("output_proj.weight", [m, d]))
        }
        try g.output("v", v)
        return try g.plan(GraphPlanOptions(timestamps: timestamps))
    }
}

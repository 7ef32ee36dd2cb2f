public import AvatarOperators

extension Graph {
    /// softmax(scale·q·kᵀ + mask)·v over heads: q [H, Lq, D], k and v [H, Lk, D] → [H, Lq, D]. `fused` runs one
    /// kernel with an online softmax; composed runs QKᵀ → softmax → ·V through an [H, Lq, Lk] scratch value.
    public func attention(q: GraphValue, k: GraphValue, v: GraphValue, scale: Float, mask: GraphValue? = nil, fused: Bool) throws -> GraphValue {
        let label = "attention"
        try require(q.rank == 3 && k.rank == 3 && v.shape == k.shape && q.shape[0] == k.shape[0] && q.shape[2] == k.shape[2], label,
                    "q \(q.shape), k \(k.shape), v \(v.shape) are not [H, L, D] alike")
        let (h, lq, d) = (q.shape[0], q.shape[1], q.shape[2]), lk = k.shape[1]
        if let mask { try require(mask.dim(-1) == lk && mask.count % lk == 0, label, "mask \(mask.shape) for \(lk) keys") }
        for (x, role) in [(q, "q"), (k, "k"), (v, "v")] { try requireActivation(x, label, role) }
        try requireParameters([mask], label)
        let type = try activations.tensorType(label)
        let ops = self.ops
        let reads = [q, k, v] + (mask.map { [$0] } ?? [])
        // The composed form's scores are activations too (softmax reads and writes them in place, stats in fp32).
        let outputs = fused ? [[h, lq, d]] : [[h, lq, d], [h, lq, lk]]
        let produced = try node(label, reads: reads, outputs: outputs, types: outputs.map { _ in activations }, retained: [],
                                halfAware: true) { _, _ in }
        let out = produced[0], scores = fused ? nil : produced[1]
        nodes[nodes.count - 1].record = { seq, b in
            try ops.attention(seq, q: b[q], k: b[k], v: b[v], out: b[out], scores: scores.map { b[$0] }, heads: h, queries: lq, keys: lk,
                              headDim: d, scale: scale, mask: mask.map { b[$0] }, maskRows: mask.map { $0.count / lk } ?? 1, fused: fused,
                              type: type)
        }
        return out
    }

    /// The A2M transformer's per-head q or k straight from fused qkv rows [sequences·length, rowStride]: the part
    /// at `offset` normalised per head (·γ·scale) and rotated with cos/sin [length, headDim/2] →
    /// [sequences, heads, length, headDim].
    public func qkNormRotary(_ qkv: GraphValue, gamma: GraphValue, cos: GraphValue, sin: GraphValue, sequences: Int, heads: Int,
                             headDim: Int, offset: Int, scale: Float, eps: Float) throws -> GraphValue {
        let label = "qk_norm_rotary"
        try require(qkv.rank == 2 && qkv.shape[0] % sequences == 0, label, "qkv \(qkv.shape) for \(sequences) sequences")
        let length = qkv.shape[0] / sequences, stride = qkv.shape[1]
        try require(offset + heads * headDim <= stride && gamma.count == heads * headDim, label,
                    "part \(offset)+\(heads)×\(headDim) of rows \(stride), γ \(gamma.shape)")
        try require(cos.shape == [length, headDim / 2] && sin.shape == cos.shape, label, "tables \(cos.shape) for \(length)×\(headDim / 2)")
        try requireActivation(qkv, label, "qkv")
        try requireParameters([gamma, cos, sin], label)
        let type = try activations.tensorType(label)
        let ops = self.ops
        return try node(label, reads: [qkv, gamma, cos, sin], output: [sequences, heads, length, headDim], type: activations,
                        halfAware: true) { seq, b, y in
            try ops.qkNormRotary(seq, qkv: b[qkv], gamma: b[gamma], cos: b[cos], sin: b[sin], y: b[y], sequences: sequences, heads: heads,
                                 length: length, headDim: headDim, rowStride: stride, offset: offset, scale: scale, eps: eps, type: type)
        }
    }
}

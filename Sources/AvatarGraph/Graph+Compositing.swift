public import AvatarOperators

extension Graph {
    /// x·α + t·(1 − α): images x, t [C, H, W], α [1, H, W] per pixel (α fp32 under fp16 activations too).
    public func alphaMix(_ x: GraphValue, _ t: GraphValue, alpha: GraphValue) throws -> GraphValue {
        try require(x.rank == 3 && t.shape == x.shape && alpha.shape == [1, x.shape[1], x.shape[2]], "alpha_mix",
                    "x \(x.shape), t \(t.shape), alpha \(alpha.shape)")
        let (c, pixels) = (x.shape[0], x.shape[1] * x.shape[2])
        try requireActivation(x, "alpha_mix"); try requireActivation(t, "alpha_mix", "t")
        try require(alpha.elementType == .float32, "alpha_mix", "alpha \(alpha) must be float32")
        let type = try x.elementType.tensorType("alpha_mix")
        let ops = self.ops
        return try node("alpha_mix", reads: [x, t, alpha], output: x.shape, type: activations, halfAware: true) { seq, b, y in
            try ops.alphaMix(seq, x: b[x], t: b[t], alpha: b[alpha], y: b[y], channels: c, pixels: pixels, type: type)
        }
    }

    /// cat([x·α, t·(1 − α)], channels): x [Cx, H, W], t [Ct, H, W], α [1, H, W] → [Cx + Ct, H, W], in one pass.
    public func alphaSplit(_ x: GraphValue, _ t: GraphValue, alpha: GraphValue) throws -> GraphValue {
        try require(x.rank == 3 && t.rank == 3 && Array(t.shape.dropFirst()) == Array(x.shape.dropFirst())
                    && alpha.shape == [1, x.shape[1], x.shape[2]], "alpha_split", "x \(x.shape), t \(t.shape), alpha \(alpha.shape)")
        let (cx, ct, pixels) = (x.shape[0], t.shape[0], x.shape[1] * x.shape[2])
        try requireActivation(x, "alpha_split"); try requireActivation(t, "alpha_split", "t")
        try require(alpha.elementType == .float32, "alpha_split", "alpha \(alpha) must be float32")
        let type = try x.elementType.tensorType("alpha_split")
        let ops = self.ops
        return try node("alpha_split", reads: [x, t, alpha], output: [cx + ct, x.shape[1], x.shape[2]], type: activations,
                        halfAware: true) { seq, b, y in
            try ops.alphaSplit(seq, x: b[x], t: b[t], alpha: b[alpha], y: b[y], xChannels: cx, tChannels: ct, pixels: pixels, type: type)
        }
    }

    /// The renderer's person alpha: clamp(torso + (head > threshold ? 1 : head), 0, 1), head and torso of one shape.
    public func personAlpha(head: GraphValue, torso: GraphValue, threshold: Float) throws -> GraphValue {
        try require(head.shape == torso.shape, "person_alpha", "head \(head.shape), torso \(torso.shape)")
        let ops = self.ops
        return try node("person_alpha", reads: [head, torso], output: head.shape) { seq, b, y in
            try ops.personAlpha(seq, head: b[head], torso: b[torso], y: b[y], pixels: head.count, threshold: threshold)
        }
    }

    /// clamp(x, lower, upper).
    public func clamp(_ x: GraphValue, lower: Float, upper: Float) throws -> GraphValue {
        try require(lower <= upper, "clamp", "bounds [\(lower), \(upper)]")
        let ops = self.ops
        return try node("clamp", reads: [x], output: x.shape) { seq, b, y in
            try ops.clamp(seq, x: b[x], y: b[y], count: x.count, lower: lower, upper: upper)
        }
    }
}

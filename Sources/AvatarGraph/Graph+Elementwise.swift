public import AvatarOperators

extension Graph {
    /// y = act(x) (LeakyReLU: `alpha` negative slope, `gain` output gain).
    public func activation(_ kind: Operators.Activation, _ x: GraphValue, alpha: Float = 0.01, gain: Float = 1) throws -> GraphValue {
        let label = kind.rawValue
        try requireActivation(x, label)
        let type = try x.elementType.tensorType(label)
        try requireVariant(label) { try Operators.activationVariant(kind, type: type) }
        let ops = self.ops
        return try node(label, reads: [x], output: x.shape, type: activations, halfAware: true) { seq, b, y in
            try ops.activation(seq, kind, x: b[x], y: b[y], count: x.count, alpha: alpha, gain: gain, type: type)
        }
    }

    public func gelu(_ x: GraphValue) throws -> GraphValue { try activation(.gelu, x) }

    /// a + b, with b of a's shape or of a suffix of it (broadcast over the leading dimensions).
    public func add(_ a: GraphValue, _ b: GraphValue) throws -> GraphValue { try binary(.add, a, b) }

    /// a · b, broadcast like `add`.
    public func mul(_ a: GraphValue, _ b: GraphValue) throws -> GraphValue { try binary(.mul, a, b) }

    private func binary(_ op: Operators.BinaryOp, _ a: GraphValue, _ b: GraphValue) throws -> GraphValue {
        let label = op.rawValue
        try require(b.rank <= a.rank && Array(a.shape.suffix(b.rank)) == b.shape, label,
                    "b \(b.shape) is neither a's shape \(a.shape) nor a suffix of it")
        try requireActivation(a, label, "a")
        let (aType, bType) = (try a.elementType.tensorType(label), try b.elementType.tensorType(label))
        try requireVariant(label) { try Operators.binaryVariant(op, a: aType, b: bType) }
        let ops = self.ops
        return try node(label, reads: [a, b], output: a.shape, type: activations, halfAware: true) { seq, t, y in
            try ops.binary(seq, op, a: t[a], b: t[b], y: t[y], count: a.count, broadcast: b.count, type: aType, bType: bType)
        }
    }

    /// y = x·scale[c] + shift[c] with channels on `axis` of x (folded BatchNorm, per-channel affine).
    public func scaleShift(_ x: GraphValue, scale: GraphValue, shift: GraphValue, axis: Int) throws -> GraphValue {
        let label = "scale_shift"
        try require(axis >= 0 && axis < x.rank, label, "axis \(axis) of \(x.shape)")
        let c = x.shape[axis]
        try require(scale.count == c && shift.count == c, label, "scale \(scale.shape) / shift \(shift.shape) for \(c) channels of \(x.shape)")
        try requireActivation(x, label)
        try requireParameters([scale, shift], label)
        let type = try x.elementType.tensorType(label)
        let inner = x.shape[(axis + 1)...].reduce(1, *)
        let ops = self.ops
        return try node(label, reads: [x, scale, shift], output: x.shape, type: activations, halfAware: true) { seq, b, y in
            try ops.scaleShift(seq, x: b[x], scale: b[scale], shift: b[shift], y: b[y], count: x.count, channels: c, inner: inner, type: type)
        }
    }

    /// LayerNorm over the last dimension (γ and optional β of that size). Mean and variance are fp32 sums
    /// under fp16 activations too.
    public func layerNorm(_ x: GraphValue, weight: GraphValue, bias: GraphValue?, eps: Float) throws -> GraphValue {
        let label = "layer_norm"
        let d = x.dim(-1)
        try require(weight.count == d && (bias?.count ?? d) == d, label, "γ \(weight.shape) / β \(bias?.shape ?? []) for rows of \(d) in \(x.shape)")
        try requireActivation(x, label)
        try requireParameters([weight, bias], label)
        let type = try x.elementType.tensorType(label)
        let ops = self.ops
        return try node(label, reads: [x, weight] + (bias.map { [$0] } ?? []), output: x.shape, type: activations, halfAware: true) { seq, b, y in
            try ops.layerNorm(seq, x: b[x], gamma: b[weight], beta: bias.map { b[$0] }, y: b[y], rows: x.count / d, d: d, eps: eps, type: type)
        }
    }

    /// F.normalize(x)·scale·γ (+β) over the last dimension, one invocation per row.
    public func rowL2Norm(_ x: GraphValue, gamma: GraphValue, beta: GraphValue? = nil, scale: Float, eps: Float) throws -> GraphValue {
        let label = "row_l2_norm"
        let d = x.dim(-1)
        try require(gamma.count == d && (beta?.count ?? d) == d, label, "γ \(gamma.shape) / β \(beta?.shape ?? []) for rows of \(d) in \(x.shape)")
        try requireActivation(x, label)
        try requireParameters([gamma, beta], label)
        let type = try x.elementType.tensorType(label)
        let ops = self.ops
        return try node(label, reads: [x, gamma] + (beta.map { [$0] } ?? []), output: x.shape, type: activations, halfAware: true) { seq, b, y in
            try ops.rowL2Norm(seq, x: b[x], gamma: b[gamma], beta: beta.map { b[$0] }, y: b[y], rows: x.count / d, d: d, scale: scale, eps: eps,
                              type: type)
        }
    }

    /// LayerNorm over the last dimension with one invocation per row (`layerNorm` runs a workgroup per row):
    /// for many short rows, where the workgroup's barriers dominate on CPU devices. Two-pass fp32 statistics
    /// under fp16 activations too.
    public func rowLayerNorm(_ x: GraphValue, weight: GraphValue, bias: GraphValue?, eps: Float) throws -> GraphValue {
        let d = x.dim(-1)
        try require(weight.count == d && (bias?.count ?? d) == d, "row_layer_norm", "γ \(weight.shape) / β \(bias?.shape ?? []) for rows of \(d) in \(x.shape)")
        try requireActivation(x, "row_layer_norm")
        try requireParameters([weight, bias], "row_layer_norm")
        let type = try x.elementType.tensorType("row_layer_norm")
        let ops = self.ops
        return try node("row_layer_norm", reads: [x, weight] + (bias.map { [$0] } ?? []), output: x.shape, type: activations, halfAware: true) { seq, b, y in
            try ops.rowLayerNorm(seq, x: b[x], gamma: b[weight], beta: bias.map { b[$0] }, y: b[y], rows: x.count / d, d: d, eps: eps, type: type)
        }
    }

    /// GEGLU over the last dimension: [.., 2d] → [.., d], value·gelu(gate).
    public func geglu(_ x: GraphValue) throws -> GraphValue {
        let label = "geglu"
        try require(x.dim(-1) % 2 == 0, label, "last dimension of \(x.shape) is odd")
        try requireActivation(x, label)
        let type = try x.elementType.tensorType(label)
        let d = x.dim(-1) / 2
        let ops = self.ops
        return try node(label, reads: [x], output: Array(x.shape.dropLast()) + [d], type: activations, halfAware: true) { seq, b, y in
            try ops.geglu(seq, x: b[x], y: b[y], rows: x.count / (2 * d), d: d, type: type)
        }
    }
}

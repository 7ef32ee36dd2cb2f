public import AvatarOperators

extension Graph {
    /// y[…, out] = x[…, in]·Wᵀ (+ bias) with W as PyTorch stores it ([out, in], fp32 or fp16).
    public func linear(_ x: GraphValue, _ weight: GraphValue, bias: GraphValue? = nil) throws -> GraphValue {
        let label = "linear"
        try require(weight.rank == 2 && x.rank >= 1 && x.dim(-1) == weight.shape[1], label,
                    "x \(x.shape) does not match weight \(weight.shape) ([out, in])")
        if let bias { try require(bias.shape == [weight.shape[0]], label, "bias \(bias.shape) for weight \(weight.shape)") }
        try requireActivation(x, label)
        try requireParameters([bias], label)
        let (a, w) = (try x.elementType.tensorType(label), try weight.elementType.tensorType(label))
        try requireVariant(label) { try Operators.matmulScalarVariant(transposeB: true, a: a, b: w, c: a) }
        let rows = x.count / x.dim(-1)
        let ops = self.ops
        return try node(label, reads: [x, weight] + (bias.map { [$0] } ?? []), output: Array(x.shape.dropLast()) + [weight.shape[0]],
                        type: activations, halfAware: true) { seq, b, y in
            try ops.linear(seq, x: b[x], weight: try b.tensor(weight), bias: bias.map { b[$0] }, y: b[y], rows: rows, type: a)
        }
    }

    /// Batched C[i] = alpha·A[i]·B[i] (+ bias): A [batch?, M, K]; B [batch?, K, N], or [batch?, N, K] with
    /// `transposeB`; a B without the batch dimension is shared by every item.
    public func matmul(_ a: GraphValue, _ b: GraphValue, transposeB: Bool = false, bias: GraphValue? = nil, alpha: Float = 1) throws -> GraphValue {
        let label = "matmul"
        try require(a.rank == 2 || a.rank == 3, label, "A must be [M, K] or [batch, M, K], got \(a.shape)")
        try require(b.rank == 2 || b.rank == 3, label, "B must be 2-D or 3-D, got \(b.shape)")
        let batch = a.rank == 3 ? a.shape[0] : 1
        let (m, k) = (a.dim(-2), a.dim(-1))
        let (bk, n) = transposeB ? (b.dim(-1), b.dim(-2)) : (b.dim(-2), b.dim(-1))
        try require(bk == k, label, "inner dimensions differ: A \(a.shape), B \(b.shape)\(transposeB ? " (transposed)" : "")")
        try require(b.rank == 2 || b.shape[0] == batch, label, "batch of B \(b.shape) differs from A \(a.shape)")
        if let bias { try require(bias.shape == [n], label, "bias \(bias.shape) for \(n) columns") }
        try requireActivation(a, label, "A")
        try requireParameters([bias], label)
        let (aType, bType) = (try a.elementType.tensorType(label), try b.elementType.tensorType(label))
        try requireVariant(label) { try Operators.matmulScalarVariant(transposeB: transposeB, a: aType, b: bType, c: aType) }
        let strideB = b.rank == 2 ? 0 : k * n
        let ops = self.ops
        let out = a.rank == 3 ? [batch, m, n] : [m, n]
        return try node(label, reads: [a, b] + (bias.map { [$0] } ?? []), output: out, type: activations, halfAware: true) { seq, t, y in
            try ops.matmul(seq, a: t[a], b: t[b], bias: bias.map { t[$0] }, c: t[y], m: m, n: n, k: k, batch: batch,
                           transposeB: transposeB, alpha: alpha, batchStrideB: strideB, aType: aType, bType: bType, cType: aType)
        }
    }
}

public import AvatarOperators

/// Sampling and per-row scans: grid_sample, cumulative sums/products, row sorts, searchsorted.
extension Graph {
    /// grid_sample 2-D (bilinear): x [C, H, W], grid [P, 2] (x → W, y → H, in [−1, 1]) → [C, P].
    public func gridSample2D(_ x: GraphValue, grid: GraphValue, border: Bool = false, alignCorners: Bool = false) throws -> GraphValue {
        let label = "grid_sample2d"
        try require(x.rank == 3 && grid.rank == 2 && grid.shape[1] == 2, label, "x \(x.shape), grid \(grid.shape)")
        let (c, h, w) = (x.shape[0], x.shape[1], x.shape[2]), p = grid.shape[0]
        let ops = self.ops
        return try node(label, reads: [x, grid], output: [c, p]) { seq, b, y in
            try ops.gridSample2D(seq, x: b[x], grid: b[grid], y: b[y], c: c, h: h, w: w, points: p, border: border, alignCorners: alignCorners)
        }
    }

    /// grid_sample 3-D (trilinear): x [C, D, H, W], grid [P, 3] (x → W, y → H, z → D) → [C, P].
    public func gridSample3D(_ x: GraphValue, grid: GraphValue, border: Bool = false, alignCorners: Bool = false) throws -> GraphValue {
        let label = "grid_sample3d"
        try require(x.rank == 4 && grid.rank == 2 && grid.shape[1] == 3, label, "x \(x.shape), grid \(grid.shape)")
        let (c, d, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]), p = grid.shape[0]
        let ops = self.ops
        return try node(label, reads: [x, grid], output: [c, p]) { seq, b, y in
            try ops.gridSample3D(seq, x: b[x], grid: b[grid], y: b[y], c: c, d: d, h: h, w: w, points: p, border: border,
                                 alignCorners: alignCorners)
        }
    }

    /// Cumulative sum or product along the last axis (`exclusive`: shifted by one, starting at 0 or 1).
    public func cumulative(_ op: Operators.ScanOp, _ x: GraphValue, exclusive: Bool = false) throws -> GraphValue {
        let d = x.dim(-1)
        let ops = self.ops
        return try node(op.rawValue, reads: [x], output: x.shape) { seq, b, y in
            try ops.cumulative(seq, op, x: b[x], y: b[y], rows: x.count / d, d: d, exclusive: exclusive)
        }
    }

    /// Sorts every row (last axis, ≤ 128 elements; stable): the sorted values and their source indices (uint32).
    public func sortRows(_ x: GraphValue, descending: Bool = false) throws -> (values: GraphValue, indices: GraphValue) {
        let d = x.dim(-1)
        try require(d <= 128, "sort_rows", "rows of \(d) elements in \(x.shape) (at most 128)")
        let ops = self.ops
        let out = try node("sort_rows", reads: [x], outputs: [x.shape, x.shape], types: [.float32, .uint32]) { _, _ in }
        let (values, indices) = (out[0], out[1])
        nodes[nodes.count - 1].record = { seq, b in
            try ops.sortRows(seq, x: b[x], y: b[values], indices: b[indices], rows: x.count / d, d: d, descending: descending)
        }
        return (values, indices)
    }

    /// torch.searchsorted per row: sorted [.., Ns], values [.., Nq] (same leading shape) → indices [.., Nq] (uint32).
    public func searchSorted(_ sorted: GraphValue, _ values: GraphValue, right: Bool) throws -> GraphValue {
        let label = "searchsorted"
        try require(sorted.rank == values.rank && sorted.shape.dropLast() == values.shape.dropLast(), label,
                    "sorted \(sorted.shape), values \(values.shape)")
        let (ns, nq) = (sorted.dim(-1), values.dim(-1)), rows = values.count / nq
        let ops = self.ops
        return try node(label, reads: [sorted, values], output: values.shape, type: .uint32) { seq, b, y in
            try ops.searchSorted(seq, sorted: b[sorted], values: b[values], indices: b[y], rows: rows, sortedCount: ns,
                                 queryCount: nq, right: right)
        }
    }
}

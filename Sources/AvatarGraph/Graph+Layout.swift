public import AvatarOperators

extension Graph {
    /// A strided read of x into a contiguous value of `shape` (≤ 4 dimensions): element i is
    /// x[offset + Σ i_k·strides_k]. A stride of 0 broadcasts. x may be any float type (a weight, an fp32 input);
    /// the result has the graph's activation type.
    public func gather(_ x: GraphValue, shape: [Int], strides: [Int], offset: Int = 0, label: String = "gather") throws -> GraphValue {
        try require(shape.count == strides.count && (1...4).contains(shape.count), label, "shape \(shape) with strides \(strides)")
        let reach = offset + zip(shape, strides).map { ($0 - 1) * $1 }.reduce(0, +)
        try require(offset >= 0 && strides.allSatisfy { $0 >= 0 } && reach < x.count, label,
                    "reads element \(reach) of \(x.shape) (shape \(shape), strides \(strides), offset \(offset))")
        let (from, to) = (try x.elementType.tensorType(label), try activations.tensorType(label))
        let ops = self.ops
        return try node(label, reads: [x], output: shape, type: activations, halfAware: true) { seq, b, y in
            try ops.copy(seq, x: b[x], y: b[y], shape: shape, srcStrides: strides, dstStrides: Operators.strides(shape), srcOffset: offset,
                         xType: from, yType: to)
        }
    }

    /// x.permute(order), written contiguously.
    public func permute(_ x: GraphValue, _ order: [Int]) throws -> GraphValue {
        try require(order.sorted() == Array(x.shape.indices), "permute", "order \(order) for \(x.shape)")
        let src = Operators.strides(x.shape)
        return try gather(x, shape: order.map { x.shape[$0] }, strides: order.map { src[$0] }, label: "permute")
    }

    /// x[…, start..<start+length, …] along `axis`, written contiguously.
    public func slice(_ x: GraphValue, axis: Int, start: Int, length: Int) throws -> GraphValue {
        try require(axis >= 0 && axis < x.rank && start >= 0 && length > 0 && start + length <= x.shape[axis], "slice",
                    "\(start)..<\(start + length) of axis \(axis) in \(x.shape)")
        var shape = x.shape
        shape[axis] = length
        let strides = Operators.strides(x.shape)
        return try gather(x, shape: shape, strides: strides, offset: start * strides[axis], label: "slice")
    }

    /// cat(parts, axis).
    public func concat(_ parts: [GraphValue], axis: Int) throws -> GraphValue {
        guard let first = parts.first else { throw GraphError("\(site("concat")): nothing to concatenate") }
        try require(axis >= 0 && axis < first.rank, "concat", "axis \(axis) for \(first.shape)")
        for p in parts {
            try require(p.rank == first.rank && p.shape.indices.allSatisfy { $0 == axis || p.shape[$0] == first.shape[$0] }, "concat",
                        "shapes \(parts.map(\.shape)) differ off axis \(axis)")
        }
        var shape = first.shape
        shape[axis] = parts.map { $0.shape[axis] }.reduce(0, +)
        for p in parts { try requireActivation(p, "concat", "part") }
        let type = try activations.tensorType("concat")
        let ops = self.ops
        return try node("concat", reads: parts, output: shape, type: activations, halfAware: true) { seq, b, y in
            try ops.concat(seq, parts: parts.map { (b[$0], $0.shape) }, y: b[y], axis: axis, type: type)
        }
    }

    /// Rows of x [T, C] with `before` and `after` zero rows around them ([T + before + after, C]); the zero rows
    /// are memory of their own, written once.
    public func padRows(_ x: GraphValue, before: Int, after: Int) throws -> GraphValue {
        try require(x.rank == 2 && before >= 0 && after >= 0, "pad_rows", "x \(x.shape), padding \(before)/\(after)")
        let (t, c) = (x.shape[0], x.shape[1])
        let (from, to) = (try x.elementType.tensorType("pad_rows"), try activations.tensorType("pad_rows"))
        let ops = self.ops
        return try node("pad_rows", reads: [x], output: [t + before + after, c], type: activations, retained: true, halfAware: true) { seq, b, y in
            try ops.copy(seq, x: b[x], y: b[y], shape: [t, c], srcStrides: [c, 1], dstStrides: [c, 1], dstOffset: before * c, xType: from, yType: to)
        }
    }

    /// Time taps of x [T, C] for a "same" 1-D convolution of odd `kernel` in time-major layout:
    /// [T, kernel·C] rows [x_{t−k/2} ‖ … ‖ x_{t+k/2}], zero outside (tap-major, matching weights stored [out, kernel·in]).
    public func timeTaps(_ x: GraphValue, kernel: Int) throws -> GraphValue {
        try require(x.rank == 2 && kernel % 2 == 1 && kernel <= x.shape[0] * 2 + 1, "time_taps", "x \(x.shape), kernel \(kernel)")
        let (t, c) = (x.shape[0], x.shape[1])
        let half = kernel / 2
        let (from, to) = (try x.elementType.tensorType("time_taps"), try activations.tensorType("time_taps"))
        let ops = self.ops
        return try node("time_taps", reads: [x], output: [t, kernel * c], type: activations, retained: true, halfAware: true) { seq, b, y in
            for k in 0..<kernel {
                // Tap k holds x_{t+k−half}: rows where that index exists.
                let shift = k - half
                let rows = t - abs(shift)
                guard rows > 0 else { continue }
                let srcRow = max(0, shift), dstRow = max(0, -shift)
                try ops.copy(seq, x: b[x], y: b[y], shape: [rows, c], srcStrides: [c, 1], dstStrides: [kernel * c, 1],
                             srcOffset: srcRow * c, dstOffset: dstRow * kernel * c + k * c, xType: from, yType: to)
            }
        }
    }
}

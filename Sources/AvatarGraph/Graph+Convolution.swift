public import AvatarOperators

extension Graph {
    /// Conv1d over x [Cin, L] → [Cout, OL], weight [Cout, Cin/groups, K] (PyTorch layout).
    public func conv1d(_ x: GraphValue, weight: GraphValue, bias: GraphValue?, stride: Int = 1, padding: Int = 0, groups: Int = 1) throws -> GraphValue {
        let label = "conv1d"
        try require(x.rank == 2 && weight.rank == 3 && groups > 0 && x.shape[0] % groups == 0 && weight.shape[1] * groups == x.shape[0], label,
                    "x \(x.shape), weight \(weight.shape), groups \(groups)")
        let (cin, length) = (x.shape[0], x.shape[1]), (cout, kernel) = (weight.shape[0], weight.shape[2])
        if let bias { try require(bias.shape == [cout], label, "bias \(bias.shape) for \(cout) channels") }
        let out = (length + 2 * padding - kernel) / stride + 1
        try require(out > 0, label, "empty output for length \(length), kernel \(kernel), padding \(padding)")
        try requireActivation(x, label)
        try requireParameters([weight, bias], label)
        let type = try x.elementType.tensorType(label)
        let ops = self.ops
        return try node(label, reads: [x, weight] + (bias.map { [$0] } ?? []), output: [cout, out], type: activations, halfAware: true) { seq, b, y in
            try ops.conv1d(seq, x: b[x], weight: b[weight], bias: bias.map { b[$0] }, y: b[y], cin: cin, length: length, cout: cout,
                           kernel: kernel, stride: stride, padding: padding, groups: groups, type: type)
        }
    }

    /// A grouped "same" conv over time in time-major layout: x [T, C] → [T, C], weight [C, C/groups, K] (PyTorch
    /// layout, zero padding K/2 each side, output rows 0..<T, so an even K drops the last frame as wav2vec2's
    /// positional conv does). Runs as im2col + a batched matmul over the groups in blocks of `blockRows` rows,
    /// so its scratch stays bounded for long inputs.
    public func groupedTimeConv(_ x: GraphValue, weight: GraphValue, groups: Int, blockRows: Int = 256) throws -> GraphValue {
        let label = "grouped_time_conv"
        try require(x.rank == 2 && weight.rank == 3 && x.shape[1] % groups == 0 && weight.shape[0] == x.shape[1]
                    && weight.shape[1] == x.shape[1] / groups, label, "x \(x.shape), weight \(weight.shape), groups \(groups)")
        let (t, h) = (x.shape[0], x.shape[1]), k = weight.shape[2], cg = h / groups, half = k / 2
        try requireActivation(x, label)
        let padded = try padRows(x, before: half, after: half)
        let block = min(t, blockRows)
        let (type, wType) = (try activations.tensorType(label), try weight.elementType.tensorType(label))
        try requireVariant(label) { try Operators.matmulScalarVariant(transposeB: true, a: type, b: wType, c: type) }
        let ops = self.ops
        let outputs = [[t, h], [groups, block, cg * k], [groups, block, cg]]
        let produced = try node(label, reads: [padded, weight], outputs: outputs, types: outputs.map { _ in activations }, retained: [],
                                halfAware: true) { _, _ in }
        let (y, col, blockOut) = (produced[0], produced[1], produced[2])
        nodes[nodes.count - 1].record = { seq, b in
            var t0 = 0
            while t0 < t {
                let rows = min(block, t - t0)
                try ops.copy(seq, x: b[padded], y: b[col], shape: [groups, rows, cg, k], srcStrides: [cg, h, 1, h],
                             dstStrides: [rows * cg * k, cg * k, k, 1], srcOffset: t0 * h, xType: type, yType: type)
                try ops.matmul(seq, a: b[col], b: b[weight], c: b[blockOut], m: rows, n: cg, k: cg * k, batch: groups, transposeB: true,
                               batchStrideB: cg * cg * k, aType: type, bType: wType, cType: type)
                try ops.copy(seq, x: b[blockOut], y: b[y], shape: [groups, rows, cg], srcStrides: [rows * cg, cg, 1], dstStrides: [cg, h, 1],
                             dstOffset: t0 * h, xType: type, yType: type)
                t0 += rows
            }
        }
        return y
    }
}

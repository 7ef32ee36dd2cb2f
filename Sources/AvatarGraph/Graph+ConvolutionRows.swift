public import AvatarOperators

extension Graph {
    /// Conv2d, groups 1, stride 1, through the row-run kernel (conv2d_rows.comp, ~3× conv2d_gemm's rate on
    /// lavapipe for 3×3 kernels): x [Cin, H, W], weight [Cout, Cin, KH, KW] as stored → [Cout, OH, OW]. The
    /// weight is permuted on the graph to tap-major [Cin, KH, KW, Cout]; the planner folds that permute of a
    /// constant into plan time. Shapes the kernel does not run (`Operators.conv2dRowsSupports`) go to `conv2d`.
    public func conv2dRows(_ x: GraphValue, weight: GraphValue, bias: GraphValue?, padding: Int? = nil) throws -> GraphValue {
        try require(weight.rank == 4, "conv2d_rows", "weight \(weight.shape)")
        return try conv2dRows(x, weight: weight, bias: bias, padY: padding ?? weight.shape[2] / 2, padX: padding ?? weight.shape[3] / 2)
    }

    /// `conv2dRows` with its own padding per axis (the fallback needs them equal).
    public func conv2dRows(_ x: GraphValue, weight: GraphValue, bias: GraphValue?, padY: Int, padX: Int) throws -> GraphValue {
        let label = "conv2d_rows"
        try require(x.rank == 3 && weight.rank == 4 && weight.shape[1] == x.shape[0], label, "x \(x.shape), weight \(weight.shape)")
        let (cin, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let (cout, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        let pad = (padY, padX)
        guard weight.elementType == .float32,
              Operators.conv2dRowsSupports(w: w, cout: cout, kernel: (kh, kw), padding: pad) else {
            try require(padY == padX, label, "padding (\(padY), \(padX)) differs per axis, which only the row-run kernel runs")
            return try conv2d(x, weight: weight, bias: bias, padding: padY)
        }
        if let bias { try require(bias.count == cout, label, "bias \(bias.shape) for \(cout) channels") }
        let oh = Operators.convOutput(h, kernel: kh, stride: 1, padding: pad.0)
        let ow = Operators.convOutput(w, kernel: kw, stride: 1, padding: pad.1)
        try require(oh > 0 && ow > 0, label, "empty output for \(x.shape), kernel \(kh)×\(kw), padding \(pad)")
        try requireActivation(x, label)
        try requireParameters([bias], label)
        let type = try x.elementType.tensorType(label)
        // The weights stay fp32 under fp16 activations (the permute of a constant is folded at plan time).
        let tapMajor = try withActivations(.float32) { try permute(weight, [1, 2, 3, 0]) }
        let ops = self.ops
        return try node(label, reads: [x, tapMajor] + (bias.map { [$0] } ?? []), output: [cout, oh, ow], type: activations,
                        halfAware: true) { seq, b, y in
            try ops.conv2dRows(seq, x: b[x], tapMajorWeight: b[tapMajor], bias: bias.map { b[$0] }, y: b[y], cin: cin, h: h, w: w,
                               cout: cout, kernel: (kh, kw), padding: pad, type: type)
        }
    }
}

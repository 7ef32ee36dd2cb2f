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
        if cout % 4 != 0, weight.elementType == .float32, x.elementType == .float32, activations == .float32,
           Operators.conv2dRowsSupports(w: w, cout: cout + 4 - cout % 4, kernel: (kh, kw), padding: pad) {
            // A few output channels (the torso's 7×7 RGB conv): zero output channels up to a multiple of 4 (folded
            // into plan time for constant weights), then the first `cout` channels of the result (a small copy: a
            // view could not be a graph output).
            let (wide, bias4) = try zeroPaddedOutputChannels(weight: weight, bias: bias, to: cout + 4 - cout % 4)
            let y = try conv2dRows(x, weight: try reshape(wide, [wide.shape[0], cin, kh, kw]), bias: bias4, padY: padY, padX: padX)
            return try slice(y, axis: 0, start: 0, length: cout)
        }
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

    /// Conv3d, stride 1, groups 1, "same" padding unless given, through the row-run kernel (conv3d_rows.comp,
    /// conv2d_rows with a depth axis): x [Cin, D, H, W], weight [Cout, Cin, KD, KH, KW] as stored →
    /// [Cout, OD, OH, OW]. The weight is permuted on the graph to tap-major [Cin, KD, KH, KW, Cout] (folded into
    /// plan time for constants). Shapes the kernel does not run (`Operators.conv3dRowsSupports`) go to `conv3d`.
    public func conv3dRows(_ x: GraphValue, weight: GraphValue, bias: GraphValue?, padding: Int? = nil) throws -> GraphValue {
        let label = "conv3d_rows"
        try require(x.rank == 4 && weight.rank == 5 && weight.shape[1] == x.shape[0], label, "x \(x.shape), weight \(weight.shape)")
        let (cin, d, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let cout = weight.shape[0], k = (weight.shape[2], weight.shape[3], weight.shape[4])
        let pad = (padding ?? k.0 / 2, padding ?? k.1 / 2, padding ?? k.2 / 2)
        if cout % 4 != 0, weight.elementType == .float32, x.elementType == .float32, activations == .float32,
           Operators.conv3dRowsSupports(w: w, cout: cout + 4 - cout % 4, kernel: k, padding: pad) {
            // As in conv2dRows: zero output channels up to a multiple of 4 (the torso's 5-channel mask conv).
            let (wide, bias4) = try zeroPaddedOutputChannels(weight: weight, bias: bias, to: cout + 4 - cout % 4)
            let y = try conv3dRows(x, weight: try reshape(wide, [wide.shape[0], cin, k.0, k.1, k.2]), bias: bias4, padding: padding)
            return try slice(y, axis: 0, start: 0, length: cout)
        }
        // fp16 activations go to conv3d (its implicit-GEMM kernel has the fp16 variants).
        guard weight.elementType == .float32, x.elementType == .float32, activations == .float32,
              Operators.conv3dRowsSupports(w: w, cout: cout, kernel: k, padding: pad) else {
            return try conv3d(x, weight: weight, bias: bias, padding: padding)
        }
        if let bias { try require(bias.count == cout, label, "bias \(bias.shape) for \(cout) channels") }
        let od = Operators.convOutput(d, kernel: k.0, stride: 1, padding: pad.0)
        let oh = Operators.convOutput(h, kernel: k.1, stride: 1, padding: pad.1)
        let ow = Operators.convOutput(w, kernel: k.2, stride: 1, padding: pad.2)
        try require(od > 0 && oh > 0 && ow > 0, label, "empty output for \(x.shape) and kernel \(weight.shape), padding \(pad)")
        // [Cout, Cin, KD·KH·KW] → [Cin, KD·KH·KW, Cout] (gathers go up to rank 4).
        let tapMajor = try permute(try reshape(weight, [cout, cin, k.0 * k.1 * k.2]), [1, 2, 0])
        let ops = self.ops
        return try node(label, reads: [x, tapMajor] + (bias.map { [$0] } ?? []), output: [cout, od, oh, ow]) { seq, b, y in
            try ops.conv3dRows(seq, x: b[x], tapMajorWeight: b[tapMajor], bias: bias.map { b[$0] }, y: b[y], cin: cin,
                               size: (d, h, w), cout: cout, kernel: k, padding: pad)
        }
    }

    /// weight [Cout, …] and bias [Cout] with zero output channels appended up to `channels`: weight as
    /// [channels, Cin·taps].
    private func zeroPaddedOutputChannels(weight: GraphValue, bias: GraphValue?, to channels: Int) throws -> (GraphValue, GraphValue?) {
        let cout = weight.shape[0], row = weight.count / cout, extra = channels - cout
        let zeros = try constant("conv_rows_zero_channels", values: [Float](repeating: 0, count: extra * row), shape: [extra, row])
        let wide = try concat([try reshape(weight, [cout, row]), zeros], axis: 0)
        let wideBias = try bias.map {
            try concat([try reshape($0, [cout]), try constant("conv_rows_zero_bias", values: [Float](repeating: 0, count: extra), shape: [extra])], axis: 0)
        }
        return (wide, wideBias)
    }
}

public import AvatarOperators

extension Graph {
    /// StyleGAN's up-sampling convolution with the stored kernel (docs/renderer.md §4.2): x [Cin, H, W] with one zero
    /// inserted between neighbouring pixels (H → 2H − 1), zero-padded by `padding` (nil: KH − 1, the full
    /// correlation), correlated with weight [Cout, Cin, KH, KW] → [Cout, 2H − 1 + 2·padding − KH + 1, …]
    /// (3×3: 2H + 1). Polyphase, so it costs what conv_transpose2d with the flipped, transposed kernel costs.
    public func upConv2d(_ x: GraphValue, weight: GraphValue, bias: GraphValue? = nil, padding: Int? = nil) throws -> GraphValue {
        let label = "up_conv2d"
        try require(x.rank == 3 && weight.rank == 4 && weight.shape[1] == x.shape[0] && weight.shape[2] <= 4 && weight.shape[3] <= 4, label,
                    "x \(x.shape), weight \(weight.shape) (kernels up to 4×4)")
        let (cin, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let (cout, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        if let bias { try require(bias.count == cout, label, "bias \(bias.shape) for \(cout) channels") }
        let padY = padding ?? kh - 1, padX = padding ?? kw - 1
        let oh = Operators.upConvOutput(h, kernel: kh, padding: padY), ow = Operators.upConvOutput(w, kernel: kw, padding: padX)
        try require(oh > 0 && ow > 0, label, "empty output for \(x.shape), kernel \(kh)×\(kw), padding \(padY)")
        let ops = self.ops
        return try node(label, reads: [x, weight] + (bias.map { [$0] } ?? []), output: [cout, oh, ow]) { seq, b, y in
            try ops.upConv2d(seq, x: b[x], weight: b[weight], bias: bias.map { b[$0] }, y: b[y], cin: cin, h: h, w: w, cout: cout,
                             kernel: (kh, kw), padding: (padY, padX))
        }
    }

    /// lrelu(filter ∗ x + bias[c], slope)·gain over x [C, H, W] zero-padded by (padY, padX): upfirdn2d without
    /// resampling (true convolution, gain folded into `filter` [KH, KW]), bias and activation in one pass.
    public func firBiasActivation(_ x: GraphValue, filter: GraphValue, bias: GraphValue, padY: (Int, Int), padX: (Int, Int),
                                  slope: Float, gain: Float) throws -> GraphValue {
        let label = "fir_bias_act"
        try require(x.rank == 3 && filter.rank == 2 && bias.count == x.shape[0] && min(padY.0, padY.1, padX.0, padX.1) >= 0, label,
                    "x \(x.shape), filter \(filter.shape), bias \(bias.shape), padding \(padY) \(padX)")
        let (c, h, w) = (x.shape[0], x.shape[1], x.shape[2]), taps = (filter.shape[0], filter.shape[1])
        let oh = Operators.upfirdnOutput(h, up: 1, down: 1, pad: padY, taps: taps.0)
        let ow = Operators.upfirdnOutput(w, up: 1, down: 1, pad: padX, taps: taps.1)
        try require(oh > 0 && ow > 0, label, "empty output for \(x.shape)")
        let ops = self.ops
        return try node(label, reads: [x, filter, bias], output: [c, oh, ow]) { seq, b, y in
            try ops.firBiasActivation(seq, x: b[x], filter: b[filter], bias: b[bias], y: b[y], channels: c, h: h, w: w, taps: taps,
                                      padY: padY, padX: padX, slope: slope, gain: gain)
        }
    }
}

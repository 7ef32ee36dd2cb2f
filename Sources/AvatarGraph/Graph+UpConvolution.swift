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
        try requireActivation(x, label)
        try requireParameters([weight, bias], label)
        let type = try x.elementType.tensorType(label)
        let ops = self.ops
        return try node(label, reads: [x, weight] + (bias.map { [$0] } ?? []), output: [cout, oh, ow], type: activations, halfAware: true) { seq, b, y in
            try ops.upConv2d(seq, x: b[x], weight: b[weight], bias: bias.map { b[$0] }, y: b[y], cin: cin, h: h, w: w, cout: cout,
                             kernel: (kh, kw), padding: (padY, padX), type: type)
        }
    }

    /// `upConv2d` of a 3×3 kernel at the default padding (→ [Cout, 2H + 1, 2W + 1]) as its four phases on the row-run
    /// kernel: even output rows take taps ky ∈ {0, 2} over input rows m − 1, m (a 2-tap conv, pad 1), odd rows tap 1
    /// over row m (1-tap, pad 0), likewise for columns; the phases are interleaved into the output. The phase
    /// kernels are strided reads of the stored weight. Shapes the row-run kernel does not run go to `upConv2d`.
    public func upConv2dPhases(_ x: GraphValue, weight: GraphValue) throws -> GraphValue {
        guard x.rank == 3, weight.rank == 4, weight.shape[2] == 3, weight.shape[3] == 3, weight.shape[1] == x.shape[0],
              weight.elementType == .float32,
              Operators.conv2dRowsSupports(w: x.shape[2], cout: weight.shape[0], kernel: (2, 2), padding: (1, 1)) else {
            return try upConv2d(x, weight: weight)
        }
        let (cout, cin, h, w) = (weight.shape[0], weight.shape[1], x.shape[1], x.shape[2])
        var phases: [GraphValue] = []
        for phase in 0..<4 {
            let (py, px) = (phase / 2, phase % 2)
            let kernel = try withActivations(.float32) {
                try gather(weight, shape: [cout, cin, 2 - py, 2 - px], strides: [cin * 9, 9, 6, 2], offset: 3 * py + px, label: "up_phase_kernel")
            }
            phases.append(try conv2dRows(x, weight: kernel, bias: nil, padY: 1 - py, padX: 1 - px))
        }
        let (oh, ow) = (2 * h + 1, 2 * w + 1)
        let type = try activations.tensorType("up_phase_interleave")
        let ops = self.ops
        return try node("up_phase_interleave", reads: phases, output: [cout, oh, ow], type: activations, halfAware: true) { seq, b, y in
            for (i, p) in phases.enumerated() {
                try ops.copy(seq, x: b[p], y: b[y], shape: p.shape, srcStrides: Operators.strides(p.shape),
                             dstStrides: [oh * ow, 2 * ow, 2], dstOffset: (i / 2) * ow + i % 2, xType: type, yType: type)
            }
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
        try requireActivation(x, label)
        try requireParameters([filter, bias], label)
        let type = try x.elementType.tensorType(label)
        let ops = self.ops
        return try node(label, reads: [x, filter, bias], output: [c, oh, ow], type: activations, halfAware: true) { seq, b, y in
            try ops.firBiasActivation(seq, x: b[x], filter: b[filter], bias: b[bias], y: b[y], channels: c, h: h, w: w, taps: taps,
                                      padY: padY, padX: padX, slope: slope, gain: gain, type: type)
        }
    }
}

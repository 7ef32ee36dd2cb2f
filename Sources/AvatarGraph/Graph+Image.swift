public import AvatarOperators
import AvatarVulkan

/// Image operators, batch 1: 2-D images are [C, H, W], volumes [C, D, H, W]; weights in PyTorch layout as stored.
extension Graph {
    /// Conv2d: x [Cin, H, W], weight [Cout, Cin/groups, KH, KW] → [Cout, OH, OW]. `padding` nil = "same" (k/2).
    public func conv2d(_ x: GraphValue, weight: GraphValue, bias: GraphValue?, stride: Int = 1, padding: Int? = nil,
                       groups: Int = 1) throws -> GraphValue {
        let label = "conv2d"
        try require(x.rank == 3 && weight.rank == 4 && groups > 0 && x.shape[0] % groups == 0
                    && weight.shape[1] * groups == x.shape[0] && weight.shape[0] % groups == 0, label,
                    "x \(x.shape), weight \(weight.shape), groups \(groups)")
        let (cin, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let (cout, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        if let bias { try require(bias.count == cout, label, "bias \(bias.shape) for \(cout) channels") }
        let pad = padding ?? kh / 2, padX = padding ?? kw / 2
        let oh = Operators.convOutput(h, kernel: kh, stride: stride, padding: pad)
        let ow = Operators.convOutput(w, kernel: kw, stride: stride, padding: padX)
        try require(oh > 0 && ow > 0, label, "empty output for \(x.shape), kernel \(kh)×\(kw), stride \(stride), padding \(pad)")
        try requireActivation(x, label)
        let type = try x.elementType.tensorType(label)
        let ops = self.ops
        let weightType: Tensor.ElementType = weight.elementType == .float16 ? .float16 : .float32
        try require(type == .float32 || weightType == .float32, label, "fp16 activations take fp32 weights")
        return try node(label, reads: [x, weight] + (bias.map { [$0] } ?? []), output: [cout, oh, ow], type: activations, halfAware: true) { seq, b, y in
            try ops.conv2d(seq, x: b[x], weight: b[weight], bias: bias.map { b[$0] }, y: b[y], cin: cin, h: h, w: w, cout: cout,
                           kernel: (kh, kw), stride: (stride, stride), padding: (pad, padX), groups: groups, weightType: weightType, type: type)
        }
    }

    /// Conv3d: x [Cin, D, H, W], weight [Cout, Cin/groups, KD, KH, KW] → [Cout, OD, OH, OW], "same" padding by default.
    public func conv3d(_ x: GraphValue, weight: GraphValue, bias: GraphValue?, padding: Int? = nil) throws -> GraphValue {
        let label = "conv3d"
        try require(x.rank == 4 && weight.rank == 5 && weight.shape[1] == x.shape[0], label, "x \(x.shape), weight \(weight.shape)")
        let (cin, d, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let cout = weight.shape[0], k = (weight.shape[2], weight.shape[3], weight.shape[4])
        if let bias { try require(bias.count == cout, label, "bias \(bias.shape) for \(cout) channels") }
        let p = (padding ?? k.0 / 2, padding ?? k.1 / 2, padding ?? k.2 / 2)
        let od = Operators.convOutput(d, kernel: k.0, stride: 1, padding: p.0)
        let oh = Operators.convOutput(h, kernel: k.1, stride: 1, padding: p.1)
        let ow = Operators.convOutput(w, kernel: k.2, stride: 1, padding: p.2)
        try require(od > 0 && oh > 0 && ow > 0, label, "empty output for \(x.shape) and kernel \(weight.shape)")
        try requireActivation(x, label)
        try requireParameters([weight, bias], label)
        let type = try x.elementType.tensorType(label)
        try require(type == .float32 || cout >= 4, label, "fp16 activations need ≥ 4 output channels (the implicit-GEMM kernel)")
        let ops = self.ops
        return try node(label, reads: [x, weight] + (bias.map { [$0] } ?? []), output: [cout, od, oh, ow], type: activations, halfAware: true) { seq, b, y in
            try ops.conv3d(seq, x: b[x], weight: b[weight], bias: bias.map { b[$0] }, y: b[y], cin: cin, size: (d, h, w), cout: cout,
                           kernel: k, padding: p, type: type)
        }
    }

    /// conv_transpose2d: x [Cin, H, W], weight [Cin, Cout, KH, KW] → [Cout, (H−1)·stride − 2·padding + KH, …].
    public func convTranspose2d(_ x: GraphValue, weight: GraphValue, bias: GraphValue?, stride: Int, padding: Int = 0) throws -> GraphValue {
        let label = "conv_transpose2d"
        try require(x.rank == 3 && weight.rank == 4 && weight.shape[0] == x.shape[0], label, "x \(x.shape), weight \(weight.shape)")
        let (cin, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let (cout, kh, kw) = (weight.shape[1], weight.shape[2], weight.shape[3])
        if let bias { try require(bias.count == cout, label, "bias \(bias.shape) for \(cout) channels") }
        let oh = (h - 1) * stride - 2 * padding + kh, ow = (w - 1) * stride - 2 * padding + kw
        try require(oh > 0 && ow > 0, label, "empty output")
        let ops = self.ops
        return try node(label, reads: [x, weight] + (bias.map { [$0] } ?? []), output: [cout, oh, ow]) { seq, b, y in
            try ops.convTranspose2d(seq, x: b[x], weight: b[weight], bias: bias.map { b[$0] }, y: b[y], cin: cin, h: h, w: w, cout: cout,
                                    kernel: (kh, kw), stride: (stride, stride), padding: (padding, padding))
        }
    }

    /// F.interpolate of x [C, H, W] (or [C, D, H, W] with D folded into C) to `size` (H', W').
    public func resize(_ x: GraphValue, to size: (Int, Int), mode: Operators.ResizeMode) throws -> GraphValue {
        try require(x.rank >= 3 && size.0 > 0 && size.1 > 0, "resize_\(mode.rawValue)", "x \(x.shape) to \(size)")
        let (h, w) = (x.dim(-2), x.dim(-1)), c = x.count / (h * w)
        try requireActivation(x, "resize_\(mode.rawValue)")
        let type = try x.elementType.tensorType("resize")
        let ops = self.ops
        return try node("resize_\(mode.rawValue)", reads: [x], output: Array(x.shape.dropLast(2)) + [size.0, size.1], type: activations,
                        halfAware: true) { seq, b, y in
            try ops.resize(seq, mode, x: b[x], y: b[y], channels: c, from: (h, w), to: size, type: type)
        }
    }

    /// Max or average pooling over the last two axes of x [.., H, W] (avg: count_include_pad).
    public func pool2d(_ x: GraphValue, _ mode: Operators.PoolMode, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int) = (0, 0)) throws -> GraphValue {
        let label = "pool2d_\(mode.rawValue)"
        try require(x.rank >= 2, label, "x \(x.shape)")
        let (h, w) = (x.dim(-2), x.dim(-1)), c = x.count / (h * w)
        let oh = Operators.convOutput(h, kernel: kernel.0, stride: stride.0, padding: padding.0)
        let ow = Operators.convOutput(w, kernel: kernel.1, stride: stride.1, padding: padding.1)
        try require(oh > 0 && ow > 0, label, "empty output for \(x.shape)")
        try requireActivation(x, label)
        let type = try x.elementType.tensorType(label)
        let ops = self.ops
        return try node(label, reads: [x], output: Array(x.shape.dropLast(2)) + [oh, ow], type: activations, halfAware: true) { seq, b, y in
            try ops.pool2d(seq, mode, x: b[x], y: b[y], channels: c, h: h, w: w, kernel: kernel, stride: stride, padding: padding, type: type)
        }
    }

    /// upfirdn2d over x [C, H, W] with `filter` [KH, KW] (true convolution, gain folded in).
    public func upfirdn2d(_ x: GraphValue, filter: GraphValue, up: Int = 1, down: Int = 1, padY: (Int, Int), padX: (Int, Int)) throws -> GraphValue {
        let label = "upfirdn2d"
        try require(x.rank == 3 && filter.rank == 2, label, "x \(x.shape), filter \(filter.shape)")
        let (c, h, w) = (x.shape[0], x.shape[1], x.shape[2]), taps = (filter.shape[0], filter.shape[1])
        let oh = Operators.upfirdnOutput(h, up: up, down: down, pad: padY, taps: taps.0)
        let ow = Operators.upfirdnOutput(w, up: up, down: down, pad: padX, taps: taps.1)
        try require(oh > 0 && ow > 0, label, "empty output for \(x.shape)")
        let ops = self.ops
        return try node(label, reads: [x, filter], output: [c, oh, ow]) { seq, b, y in
            try ops.upfirdn2d(seq, x: b[x], filter: b[filter], y: b[y], channels: c, h: h, w: w, taps: taps, up: (up, up),
                              down: (down, down), padY: padY, padX: padX)
        }
    }
}

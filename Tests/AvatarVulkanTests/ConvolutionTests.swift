import AvatarOperators
import AvatarVulkan
import Testing

/// Convolutions and fp16-weight matmul against naive CPU references (double accumulation) and PyTorch.
@Suite(.serialized) struct ConvolutionTests {
    var gpu: GPUHarness { get throws { try #require(GPUHarness.shared, "no Vulkan device") } }

    /// fp16 weights (Linear layout), fp32 activations and accumulation: the error is the fp16 rounding of W.
    /// K = 21 takes the scalar fp16-storage kernel, K = 24 the texel kernel through an RGBA16F view.
    @Test(arguments: [21, 24])
    func linearWithFP16Weights(inF: Int) throws {
        let gpu = try gpu
        if inF % 4 != 0 && !gpu.device.info.storageBuffer16BitAccess { return }
        let (rows, outF) = (9, 13)
        let x = GPUHarness.random(rows * inF, seed: 14), w = GPUHarness.random(outF * inF, seed: 15)
        let arena = try BufferArena(device: gpu.device, byteCount: 1 << 16)
        let weight = try Tensor(shape: [outF, inF], elementType: .float16, in: arena)
        try weight.write(w)
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(rows * outF)
            try gpu.ops.linear(seq, x: try r.input(x), weight: weight, y: out, rows: rows)
        }
        let rounded = w.map { Float(Float16($0)) }
        GPUHarness.expectClose(try out.read(), CPUReference.matmul(x, rounded, m: rows, n: outF, k: inF, transposeB: true),
                               nmse: 1e-11, "fp16-weight linear vs fp16-rounded reference")
        GPUHarness.expectClose(try out.read(), CPUReference.matmul(x, w, m: rows, n: outF, k: inF, transposeB: true),
                               nmse: 1e-6, "fp16-weight linear vs fp32 reference")
        #expect(try run.guardsIntact())
    }

    @Test(arguments: [(3, 1, 1, 1, 1), (3, 1, 1, 2, 1), (31, 1, 15, 1, 5), (5, 2, 2, 1, 1), (4, 1, 3, 2, 1)])
    func conv1d(k: Int, stride: Int, pad: Int, dilation: Int, groupsCase: Int) throws {
        let gpu = try gpu
        // groupsCase 5: depthwise (groups = channels) as the A2M positional conv; 1: dense.
        let cin = 10, l = 23, cout = 10, groups = groupsCase == 5 ? 10 : 1
        let x = GPUHarness.random(cin * l, seed: 16), w = GPUHarness.random(cout * (cin / groups) * k, seed: 17)
        let b = GPUHarness.random(cout, seed: 18)
        let ol = (l + 2 * pad - dilation * (k - 1) - 1) / stride + 1
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(cout * ol)
            try gpu.ops.conv1d(seq, x: try r.input(x), weight: try r.input(w), bias: try r.input(b), y: out, cin: cin, length: l,
                               cout: cout, kernel: k, stride: stride, padding: pad, dilation: dilation, groups: groups)
        }
        let want = CPUReference.conv1d(x, w, b, cin: cin, l: l, cout: cout, k: k, stride: stride, pad: pad, dilation: dilation, groups: groups)
        GPUHarness.expectClose(try out.read(), want, nmse: 1e-11, "conv1d k\(k) s\(stride) p\(pad) d\(dilation) g\(groups)")
        #expect(try run.guardsIntact())
    }

    /// Grouped k128 (the kind of long conv with groups the issue names): 16 channels in 4 groups.
    @Test func conv1dGroupedK128() throws {
        let gpu = try gpu
        let (cin, l, cout, k, groups) = (16, 151, 8, 128, 4)
        let x = GPUHarness.random(cin * l, seed: 19), w = GPUHarness.random(cout * (cin / groups) * k, seed: 20, scale: 0.1)
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(cout * (l + 2 * 64 - 127))
            try gpu.ops.conv1d(seq, x: try r.input(x), weight: try r.input(w), bias: nil, y: out, cin: cin, length: l, cout: cout,
                               kernel: k, padding: 64, groups: groups)
        }
        let want = CPUReference.conv1d(x, w, nil, cin: cin, l: l, cout: cout, k: k, stride: 1, pad: 64, dilation: 1, groups: groups)
        GPUHarness.expectClose(try out.read(), want, nmse: 1e-11, "conv1d k128 groups 4")
        #expect(try run.guardsIntact())
    }

    /// The implicit-GEMM path (groups 1, ≥ 8 output channels) on odd sizes, strides 1/2/4, 1×1…7×7.
    @Test(arguments: [(1, 0, 1), (3, 1, 1), (3, 1, 2), (7, 3, 1), (7, 3, 4), (4, 0, 4)])
    func conv2dImplicitGemm(k: Int, pad: Int, stride: Int) throws {
        let gpu = try gpu
        let (cin, h, w, cout) = (5, 13, 11, 19)
        let x = GPUHarness.random(cin * h * w, seed: 21), wt = GPUHarness.random(cout * cin * k * k, seed: 22)
        let b = GPUHarness.random(cout, seed: 23)
        let oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(cout * oh * ow)
            try gpu.ops.conv2d(seq, x: try r.input(x), weight: try r.input(wt), bias: try r.input(b), y: out, cin: cin, h: h, w: w,
                               cout: cout, kernel: (k, k), stride: (stride, stride), padding: (pad, pad))
        }
        let want = CPUReference.conv2d(x, wt, b, cin: cin, h: h, wd: w, cout: cout, kh: k, kw: k, stride: stride, pad: pad, groups: 1)
        GPUHarness.expectClose(try out.read(), want, nmse: 1e-11, "conv2d gemm \(k)x\(k) s\(stride) p\(pad)")
        #expect(try run.guardsIntact())
    }

    /// An input that ends exactly at the end of its buffer with a partial last texel takes the storage-buffer
    /// variant of the implicit GEMM.
    @Test func conv2dImplicitGemmWithoutTexelViews() throws {
        let gpu = try gpu
        let (cin, h, w, cout) = (5, 13, 11, 9)
        let x = GPUHarness.random(cin * h * w, seed: 32), wt = GPUHarness.random(cout * cin * 9, seed: 33)
        let input = try DeviceBuffer(device: gpu.device, byteCount: x.count * 4)
        try input.write(x)
        let xs = BufferSlice(buffer: input, offset: 0, byteCount: x.count * 4)
        #expect(!xs.texelViewable(alignment: gpu.device.texelAlignment))
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(cout * h * w)
            try gpu.ops.conv2d(seq, x: xs, weight: try r.input(wt), bias: nil, y: out, cin: cin, h: h, w: w, cout: cout,
                               kernel: (3, 3), padding: (1, 1))
        }
        let want = CPUReference.conv2d(x, wt, nil, cin: cin, h: h, wd: w, cout: cout, kh: 3, kw: 3, stride: 1, pad: 1, groups: 1)
        GPUHarness.expectClose(try out.read(), want, nmse: 1e-11, "conv2d gemm (storage buffers)")
        #expect(try run.guardsIntact())
    }

    /// fp16 conv weights through an RGBA16F texel view of the implicit-GEMM kernel.
    @Test func conv2dWithFP16Weights() throws {
        let gpu = try gpu
        let (cin, h, w, cout) = (3, 9, 11, 10)
        let x = GPUHarness.random(cin * h * w, seed: 34), wt = GPUHarness.random(cout * cin * 9, seed: 35)
        let arena = try BufferArena(device: gpu.device, byteCount: 1 << 16)
        let weight = try Tensor(shape: [cout, cin, 3, 3], elementType: .float16, in: arena)
        try weight.write(wt)
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(cout * h * w)
            try gpu.ops.conv2d(seq, x: try r.input(x), weight: weight.storage, bias: nil, y: out, cin: cin, h: h, w: w, cout: cout,
                               kernel: (3, 3), padding: (1, 1), weightType: .float16)
        }
        let rounded = wt.map { Float(Float16($0)) }
        let want = CPUReference.conv2d(x, rounded, nil, cin: cin, h: h, wd: w, cout: cout, kh: 3, kw: 3, stride: 1, pad: 1, groups: 1)
        GPUHarness.expectClose(try out.read(), want, nmse: 1e-11, "fp16-weight conv2d vs fp16-rounded reference")
        #expect(try run.guardsIntact())
    }

    /// Depthwise 3×3 (Mix-FFN) takes the direct kernel.
    @Test func conv2dDepthwise() throws {
        let gpu = try gpu
        let (c, h, w) = (9, 11, 13)
        let x = GPUHarness.random(c * h * w, seed: 24), wt = GPUHarness.random(c * 9, seed: 25), b = GPUHarness.random(c, seed: 26)
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(c * h * w)
            try gpu.ops.conv2d(seq, x: try r.input(x), weight: try r.input(wt), bias: try r.input(b), y: out, cin: c, h: h, w: w,
                               cout: c, kernel: (3, 3), padding: (1, 1), groups: c)
        }
        let want = CPUReference.conv2d(x, wt, b, cin: c, h: h, wd: w, cout: c, kh: 3, kw: 3, stride: 1, pad: 1, groups: c)
        GPUHarness.expectClose(try out.read(), want, nmse: 1e-11, "depthwise conv2d")
        #expect(try run.guardsIntact())
    }

    @Test(arguments: [(1, 0, 1), (3, 1, 1), (3, 1, 2), (7, 3, 1)])
    func conv3d(k: Int, pad: Int, stride: Int) throws {
        let gpu = try gpu
        let (cin, d, h, w, cout) = (3, 7, 9, 5, 4)
        let x = GPUHarness.random(cin * d * h * w, seed: 27), wt = GPUHarness.random(cout * cin * k * k * k, seed: 28)
        let b = GPUHarness.random(cout, seed: 29)
        let o = { (n: Int) in (n + 2 * pad - k) / stride + 1 }
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(cout * o(d) * o(h) * o(w))
            try gpu.ops.conv3d(seq, x: try r.input(x), weight: try r.input(wt), bias: try r.input(b), y: out, cin: cin, size: (d, h, w),
                               cout: cout, kernel: (k, k, k), stride: (stride, stride, stride), padding: (pad, pad, pad))
        }
        let want = CPUReference.conv3d(x, wt, b, cin: cin, d: d, h: h, wd: w, cout: cout, k: k, stride: stride, pad: pad)
        GPUHarness.expectClose(try out.read(), want, nmse: 1e-11, "conv3d \(k)^3 s\(stride)")
        #expect(try run.guardsIntact())
    }

    /// conv3d_rows.comp against the CPU reference, every tile that runs the shape: OW 12 and 36 end each line with
    /// a partial run, Cout 20 and 36 leave a clamped channel group, depth and row padding are skipped at both ends,
    /// 1³, 5³ and 7³ windows reach both sides; W 4 with even OH takes line pairs (3³ and 5³).
    @Test(arguments: [
        // (cin, d, h, w, cout, k, pad)
        (3, 5, 7, 12, 20, 3, 1),
        (2, 6, 5, 8, 36, 5, 2),
        (5, 4, 9, 8, 8, 7, 3),
        (4, 3, 6, 16, 12, 1, 0),
        (3, 6, 8, 12, 4, 3, 0),
        (2, 3, 5, 36, 20, 3, 1),
        (5, 3, 4, 4, 20, 3, 1),
        (3, 2, 6, 4, 8, 5, 2),
    ], Operators.RowsTile.allCases)
    func conv3dRows(_ shape: (Int, Int, Int, Int, Int, Int, Int), tile: Operators.RowsTile) throws {
        let gpu = try gpu
        let (cin, d, h, w, cout, k, pad) = shape
        let taps = k * k * k
        let o = { (n: Int) in n + 2 * pad - k + 1 }
        if !tile.runs(w: w, oh: o(h), ow: o(w)) { return }
        let x = GPUHarness.random(cin * d * h * w, seed: 31), wt = GPUHarness.random(cout * cin * taps, seed: 32)
        let b = GPUHarness.random(cout, seed: 33)
        // Tap-major [Cin, KD, KH, KW, Cout], as the graph permutes the stored [Cout, Cin, KD, KH, KW].
        var tapMajor = [Float](repeating: 0, count: wt.count)
        for co in 0..<cout { for ci in 0..<cin { for t in 0..<taps { tapMajor[(ci * taps + t) * cout + co] = wt[(co * cin + ci) * taps + t] } } }
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(cout * o(d) * o(h) * o(w))
            try gpu.ops.conv3dRows(seq, x: try r.input(x), tapMajorWeight: try r.input(tapMajor), bias: try r.input(b), y: out,
                                   cin: cin, size: (d, h, w), cout: cout, kernel: (k, k, k), padding: (pad, pad, pad), tile: tile)
        }
        let want = CPUReference.conv3d(x, wt, b, cin: cin, d: d, h: h, wd: w, cout: cout, k: k, stride: 1, pad: pad)
        let got = try out.read()
        let worst = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
        print("conv3d_rows \(tile) \(shape): max |Δ| \(worst), NMSE \(GPUHarness.nmse(got, want))")
        GPUHarness.expectClose(got, want, nmse: 1e-11, "conv3d_rows \(tile) \(k)^3 \(shape)")
        #expect(try run.guardsIntact())
    }

    /// conv2d_rows.comp against the CPU reference, both tiles: OW 36 and 20 end rows with partial runs (4 of 16,
    /// 4 of 8), Cout 20 a clamped channel group, 3×3 / 5×5 / 7×7 windows reaching both sides, "valid" padding.
    @Test(arguments: [
        // (cin, h, w, cout, k, pad)
        (3, 7, 36, 20, 3, 1),
        (2, 5, 20, 12, 5, 2),
        (4, 6, 24, 8, 7, 3),
        (3, 6, 16, 4, 3, 0),
    ], [Operators.RowsTile.r8c16, .r16c16])
    func conv2dRows(_ shape: (Int, Int, Int, Int, Int, Int), tile: Operators.RowsTile) throws {
        let gpu = try gpu
        let (cin, h, w, cout, k, pad) = shape
        let taps = k * k
        let x = GPUHarness.random(cin * h * w, seed: 34), wt = GPUHarness.random(cout * cin * taps, seed: 35)
        let b = GPUHarness.random(cout, seed: 36)
        var tapMajor = [Float](repeating: 0, count: wt.count)
        for co in 0..<cout { for ci in 0..<cin { for t in 0..<taps { tapMajor[(ci * taps + t) * cout + co] = wt[(co * cin + ci) * taps + t] } } }
        let o = { (n: Int) in n + 2 * pad - k + 1 }
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(cout * o(h) * o(w))
            try gpu.ops.conv2dRows(seq, x: try r.input(x), tapMajorWeight: try r.input(tapMajor), bias: try r.input(b), y: out,
                                   cin: cin, h: h, w: w, cout: cout, kernel: (k, k), padding: (pad, pad), tile: tile)
        }
        let want = CPUReference.conv2d(x, wt, b, cin: cin, h: h, wd: w, cout: cout, kh: k, kw: k, stride: 1, pad: pad, groups: 1)
        let got = try out.read()
        let worst = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
        print("conv2d_rows \(tile) \(shape): max |Δ| \(worst), NMSE \(GPUHarness.nmse(got, want))")
        GPUHarness.expectClose(got, want, nmse: 1e-11, "conv2d_rows \(tile) \(k)x\(k) \(shape)")
        #expect(try run.guardsIntact())
    }

    @Test func convTranspose2dMatchesPyTorch() throws {
        let gpu = try gpu
        let g = GPUHarness.golden
        let x = try g.tensor("conv_transpose2d.input").floats(), w = try g.tensor("conv_transpose2d.weight").floats()
        let b = try g.tensor("conv_transpose2d.bias").floats(), want = try g.tensor("conv_transpose2d.output")
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(want.info.elementCount)
            try gpu.ops.convTranspose2d(seq, x: try r.input(x), weight: try r.input(w), bias: try r.input(b), y: out, cin: 4, h: 5, w: 6,
                                        cout: 6, kernel: (3, 3), stride: (2, 2), padding: (1, 1), outputPadding: (1, 1), groups: 2)
        }
        #expect(want.shape == [6, 10, 12])
        GPUHarness.expectClose(try out.read(), want.floats(), nmse: 1e-11, "conv_transpose2d vs PyTorch")
        #expect(try run.guardsIntact())
    }

    @Test(arguments: [(3, 2, 0, 0), (4, 2, 1, 0), (3, 2, 1, 1), (5, 1, 2, 0)])
    func convTranspose2dAgainstCPU(k: Int, stride: Int, pad: Int, outPad: Int) throws {
        let gpu = try gpu
        let (cin, h, w, cout) = (3, 7, 5, 4)
        let x = GPUHarness.random(cin * h * w, seed: 30), wt = GPUHarness.random(cin * cout * k * k, seed: 31)
        let oh = (h - 1) * stride - 2 * pad + k + outPad, ow = (w - 1) * stride - 2 * pad + k + outPad
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(cout * oh * ow)
            try gpu.ops.convTranspose2d(seq, x: try r.input(x), weight: try r.input(wt), bias: nil, y: out, cin: cin, h: h, w: w, cout: cout,
                                        kernel: (k, k), stride: (stride, stride), padding: (pad, pad), outputPadding: (outPad, outPad))
        }
        let want = CPUReference.convTranspose2d(x, wt, nil, cin: cin, h: h, wd: w, cout: cout, k: k, stride: stride, pad: pad,
                                                outPad: outPad, groups: 1)
        GPUHarness.expectClose(try out.read(), want, nmse: 1e-11, "conv_transpose2d k\(k) s\(stride) p\(pad) op\(outPad)")
        #expect(try run.guardsIntact())
    }
}

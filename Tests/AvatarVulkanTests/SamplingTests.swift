import AvatarOperators
import AvatarVulkan
import Testing

/// Resampling operators against PyTorch goldens (align_corners, antialias, upfirdn2d padding and filter
/// orientation, grid_sample border) and naive references.
@Suite(.serialized) struct SamplingTests {
    var gpu: GPUHarness { get throws { try #require(GPUHarness.shared, "no Vulkan device") } }

    @Test(arguments: [
        ("bilinear_up", Operators.ResizeMode.bilinear, 13, 17), ("bilinear_align_up", .bilinearAlignCorners, 13, 17),
        ("bilinear_down", .bilinear, 3, 4), ("antialias_down", .antialias, 3, 4), ("antialias_down2", .antialias, 5, 2),
        ("nearest_up", .nearest, 14, 18),
    ])
    func resizeMatchesPyTorch(golden: String, mode: Operators.ResizeMode, oh: Int, ow: Int) throws {
        let gpu = try gpu
        let g = GPUHarness.golden
        let x = try g.tensor("resize.input").floats(), want = try g.tensor("resize.\(golden)")
        #expect(want.shape == [3, oh, ow])
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(3 * oh * ow)
            try gpu.ops.resize(seq, mode, x: try r.input(x), y: out, channels: 3, from: (7, 9), to: (oh, ow))
        }
        GPUHarness.expectClose(try out.read(), want.floats(), nmse: 1e-11, "resize \(golden)")
        #expect(try run.guardsIntact())
    }

    /// 512→256-style antialiased halving (32×24 → 16×12).
    @Test func antialiasedHalvingMatchesPyTorch() throws {
        let gpu = try gpu
        let g = GPUHarness.golden
        let x = try g.tensor("resize.big_input").floats()
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(2 * 16 * 12)
            try gpu.ops.resize(seq, .antialias, x: try r.input(x), y: out, channels: 2, from: (32, 24), to: (16, 12))
        }
        GPUHarness.expectClose(try out.read(), try g.tensor("resize.antialias_half").floats(), nmse: 1e-11, "AA 2× down")
        #expect(try run.guardsIntact())
    }

    /// More than 65535 workgroups: the host folds the launch into y and LINEAR_ID unfolds it (4.5 M outputs
    /// of a 64-wide kernel; a 1×1 average pool is the identity).
    @Test func launchesBeyond65535GroupsAreFolded() throws {
        let gpu = try gpu
        let (c, h, w) = (18, 500, 501)
        let x = (0..<(c * h * w)).map { Float($0 % 9973) }
        var out: BufferSlice!
        let run = try gpu.run(arenaBytes: 2 * x.count * 4 + (1 << 20)) { seq, r in
            out = try r.output(x.count)
            try gpu.ops.pool2d(seq, .avg, x: try r.input(x), y: out, channels: c, h: h, w: w, kernel: (1, 1), stride: (1, 1))
        }
        #expect(c * h * w > 65535 * 64)
        #expect(try out.read() == x)
        #expect(try run.guardsIntact())
    }

    @Test(arguments: [("max_k3s2p1", Operators.PoolMode.max, 3, 2, 1), ("avg_k3s2p1", .avg, 3, 2, 1), ("avg_k2s2", .avg, 2, 2, 0)])
    func poolingMatchesPyTorch(golden: String, mode: Operators.PoolMode, k: Int, s: Int, p: Int) throws {
        let gpu = try gpu
        let g = GPUHarness.golden
        let x = try g.tensor("pool.input").floats(), want = try g.tensor("pool.\(golden)")
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(want.info.elementCount)
            try gpu.ops.pool2d(seq, mode, x: try r.input(x), y: out, channels: 3, h: 7, w: 9, kernel: (k, k), stride: (s, s), padding: (p, p))
        }
        GPUHarness.expectClose(try out.read(), want.floats(), nmse: 1e-12, "pool \(golden)")
        #expect(try run.guardsIntact())
    }

    /// The importance sampler's max_pool1d(k2, s1, p1) → avg_pool1d(k2, s1) chain, as 1-D pools (h = 1).
    @Test func pool1dChainMatchesPyTorch() throws {
        let gpu = try gpu
        let g = GPUHarness.golden
        let x = try g.tensor("pool1d.input").floats()
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            let mid = try r.output(5 * 48)
            out = try r.output(5 * 47)
            try gpu.ops.pool2d(seq, .max, x: try r.input(x), y: mid, channels: 5, h: 1, w: 47, kernel: (1, 2), stride: (1, 1), padding: (0, 1))
            try gpu.ops.pool2d(seq, .avg, x: mid, y: out, channels: 5, h: 1, w: 48, kernel: (1, 2), stride: (1, 1))
        }
        GPUHarness.expectClose(try out.read(), try g.tensor("pool1d.chain").floats(), nmse: 1e-12, "pool1d chain")
        #expect(try run.guardsIntact())
    }

    @Test(arguments: [("up2_pad21", "fir_gain4", 2, 1, 2, 1), ("down2_pad11", "fir_gain4", 1, 2, 1, 1),
                      ("asym_up2_pad_neg", "asym", 2, 1, 1, -1)])
    func upfirdn2dMatchesStyleGANReference(golden: String, filter: String, up: Int, down: Int, pad0: Int, pad1: Int) throws {
        let gpu = try gpu
        let g = GPUHarness.golden
        let x = try g.tensor("upfirdn2d.input").floats(), want = try g.tensor("upfirdn2d.\(golden)")
        let f = try g.tensor("upfirdn2d.\(filter)")
        let taps = (f.shape[0], f.shape[1])
        // The downsampling case uses the same FIR without the gain of 4.
        let fv = golden == "down2_pad11" ? f.floats().map { $0 / 4 } : f.floats()
        let (oh, ow) = (want.shape[1], want.shape[2])
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(2 * oh * ow)
            try gpu.ops.upfirdn2d(seq, x: try r.input(x), filter: try r.input(fv), y: out, channels: 2, h: 7, w: 5, taps: taps,
                                  up: (up, up), down: (down, down), padY: (pad0, pad1), padX: (pad0, pad1))
        }
        #expect(Operators.upfirdnOutput(7, up: up, down: down, pad: (pad0, pad1), taps: taps.0) == oh)
        GPUHarness.expectClose(try out.read(), want.floats(), nmse: 1e-11, "upfirdn2d \(golden)")
        #expect(try run.guardsIntact())
    }

    @Test(arguments: [("zeros", false), ("zeros", true), ("border", false), ("border", true)])
    func gridSample3DMatchesPyTorch(padding: String, align: Bool) throws {
        let gpu = try gpu
        let g = GPUHarness.golden
        let x = try g.tensor("grid_sample3d.input").floats(), grid = try g.tensor("grid_sample3d.grid").floats()
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(2 * 11)
            try gpu.ops.gridSample3D(seq, x: try r.input(x), grid: try r.input(grid), y: out, c: 2, d: 5, h: 6, w: 7, points: 11,
                                     border: padding == "border", alignCorners: align)
        }
        GPUHarness.expectClose(try out.read(), try g.tensor("grid_sample3d.\(padding).\(align ? "align" : "noalign")").floats(),
                               nmse: 1e-11, "grid_sample 3-D \(padding) align=\(align)")
        #expect(try run.guardsIntact())
    }
}

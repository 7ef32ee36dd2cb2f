import AvatarFormats
import AvatarOperators
import AvatarVulkan
import Foundation
import Testing

/// Every operator against a reference on odd shapes (not multiples of the workgroup size), with NMSE
/// thresholds, NaN/Inf checks and guard regions. Runs on lavapipe in CI.
@Suite(.serialized) struct OperatorTests {
    var gpu: GPUHarness { get throws { try #require(GPUHarness.shared, "no Vulkan device") } }

    @Test func pushConstantLayoutsMatchTheShaders() {
        #expect(MemoryLayout<MatmulPush>.size == MatmulPush.shaderSize)
        #expect(MemoryLayout<UnaryPush>.size == UnaryPush.shaderSize)
        #expect(MemoryLayout<BinaryPush>.size == BinaryPush.shaderSize)
        #expect(MemoryLayout<NormPush>.size == NormPush.shaderSize)
        #expect(MemoryLayout<SoftmaxPush>.size == SoftmaxPush.shaderSize)
        #expect(MemoryLayout<GegluPush>.size == GegluPush.shaderSize)
        #expect(MemoryLayout<Conv2dPush>.size == Conv2dPush.shaderSize)
        #expect(MemoryLayout<GridSamplePush>.size == GridSamplePush.shaderSize)
    }

    /// Unaligned shapes take the scalar kernel; aligned ones (K, and N for B as K×N, multiples of 4) the
    /// texel-buffer kernel. M and N are never multiples of the tiles.
    @Test(arguments: [(13, 7, 9, false), (65, 130, 33, true), (1, 200, 17, false), (70, 3, 129, true),
                      (13, 12, 8, false), (37, 68, 20, false), (37, 13, 24, true), (70, 100, 64, true), (1, 4, 4, false)])
    func matmul(m: Int, n: Int, k: Int, transposeB: Bool) throws {
        let gpu = try gpu
        let a = GPUHarness.random(2 * m * k, seed: 1), b = GPUHarness.random(2 * k * n, seed: 2), bias = GPUHarness.random(n, seed: 3)
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(2 * m * n)
            try gpu.ops.matmul(seq, a: try r.input(a), b: try r.input(b), bias: try r.input(bias), c: out,
                               m: m, n: n, k: k, batch: 2, transposeB: transposeB, alpha: 0.5)
        }
        let got = try out.read()
        let want = (0..<2).flatMap { i in
            CPUReference.matmul(Array(a[(i * m * k)..<((i + 1) * m * k)]), Array(b[(i * k * n)..<((i + 1) * k * n)]),
                                m: m, n: n, k: k, transposeB: transposeB, bias: bias, alpha: 0.5)
        }
        GPUHarness.expectClose(got, want, nmse: 1e-11, "matmul \(m)x\(n)x\(k)")
        #expect(try run.guardsIntact(), "matmul wrote outside its output")
    }

    @Test(arguments: Operators.Activation.allCases)
    func activationsMatchPyTorch(kind: Operators.Activation) throws {
        let gpu = try gpu
        let golden = GPUHarness.golden
        let input = try golden.tensor("act.input").floats()
        let want = kind == .relu ? input.map { max($0, 0) } : try golden.tensor("act.\(kind.rawValue)").floats()
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(input.count)
            try gpu.ops.activation(seq, kind, x: try r.input(input), y: out, count: input.count, alpha: 0.2)
        }
        GPUHarness.expectClose(try out.read(), want, nmse: 1e-10, "\(kind)")
        #expect(try run.guardsIntact())
    }

    @Test func binaryBroadcasts() throws {
        let gpu = try gpu
        let a = GPUHarness.random(3 * 5 * 7, seed: 4), b = GPUHarness.random(5, seed: 5)
        var add: BufferSlice!, mul: BufferSlice!
        let run = try gpu.run { seq, r in
            add = try r.output(a.count)
            mul = try r.output(a.count)
            let ai = try r.input(a), bi = try r.input(b)
            try gpu.ops.binary(seq, .add, a: ai, b: bi, y: add, count: a.count, broadcast: 5)        // per last-dim element
            try gpu.ops.binary(seq, .mul, a: ai, b: bi, y: mul, count: a.count, broadcast: 5, inner: 7) // per channel of [3,5,7]
        }
        GPUHarness.expectClose(try add.read(), a.indices.map { a[$0] + b[$0 % 5] }, nmse: 1e-14, "add")
        GPUHarness.expectClose(try mul.read(), a.indices.map { a[$0] * b[($0 / 7) % 5] }, nmse: 1e-14, "mul")
        #expect(try run.guardsIntact())
    }

    @Test func normsMatchPyTorch() throws {
        let gpu = try gpu
        let g = GPUHarness.golden
        let x = try g.tensor("norm.input").floats(), gamma = try g.tensor("norm.gamma").floats(), beta = try g.tensor("norm.beta").floats()
        var layer: BufferSlice!, l2: BufferSlice!
        let run = try gpu.run { seq, r in
            layer = try r.output(x.count)
            l2 = try r.output(x.count)
            let xi = try r.input(x), gi = try r.input(gamma)
            try gpu.ops.layerNorm(seq, x: xi, gamma: gi, beta: try r.input(beta), y: layer, rows: 5, d: 13, eps: 1e-5)
            try gpu.ops.l2Norm(seq, x: xi, gamma: gi, y: l2, rows: 5, d: 13, scale: Float(13).squareRoot())
        }
        GPUHarness.expectClose(try layer.read(), try g.tensor("norm.layer").floats(), nmse: 1e-10, "layer norm")
        GPUHarness.expectClose(try l2.read(), try g.tensor("norm.l2").floats(), nmse: 1e-10, "F.normalize norm")
        #expect(try run.guardsIntact())
    }

    @Test(arguments: [(7, 9), (3, 300), (301, 13)])
    func softmaxWithScaleAndMask(rows: Int, d: Int) throws {
        let gpu = try gpu
        let x = GPUHarness.random(rows * d, seed: 6, scale: 8)
        var mask = [Float](repeating: 0, count: d)
        mask[d - 1] = -.infinity
        mask[0] = -3
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(x.count)
            try gpu.ops.softmax(seq, x: try r.input(x), y: out, rows: rows, d: d, scale: 10, mask: try r.input(mask), maskRows: 1)
        }
        GPUHarness.expectClose(try out.read(), CPUReference.softmax(x, rows: rows, d: d, scale: 10, mask: mask), nmse: 1e-11, "softmax")
        #expect(try run.guardsIntact())
    }

    @Test func gegluSplitsValueAndGate() throws {
        let gpu = try gpu
        let x = GPUHarness.random(9 * 2 * 11, seed: 7, scale: 3)
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(9 * 11)
            try gpu.ops.geglu(seq, x: try r.input(x), y: out, rows: 9, d: 11)
        }
        GPUHarness.expectClose(try out.read(), CPUReference.geglu(x, rows: 9, d: 11), nmse: 1e-11, "geglu")
        #expect(try run.guardsIntact())
    }

    @Test func conv2dMatchesPyTorchWithStridePaddingGroups() throws {
        let gpu = try gpu
        let g = GPUHarness.golden
        let x = try g.tensor("conv2d.input").floats(), w = try g.tensor("conv2d.weight").floats(), b = try g.tensor("conv2d.bias").floats()
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(6 * 5 * 4)
            try gpu.ops.conv2d(seq, x: try r.input(x), weight: try r.input(w), bias: try r.input(b), y: out,
                               cin: 4, h: 9, w: 7, cout: 6, kernel: (3, 3), stride: (2, 2), padding: (1, 1), groups: 2)
        }
        GPUHarness.expectClose(try out.read(), try g.tensor("conv2d.output").floats(), nmse: 1e-11, "conv2d vs PyTorch")
        #expect(try run.guardsIntact())
    }

    @Test(arguments: [(1, 1, 0, 1), (3, 3, 1, 1), (7, 7, 3, 1), (3, 3, 1, 4)])
    func conv2dAgainstCPU(kh: Int, kw: Int, pad: Int, stride: Int) throws {
        let gpu = try gpu
        let (cin, h, w, cout) = (5, 13, 11, 7)
        let x = GPUHarness.random(cin * h * w, seed: 8), wt = GPUHarness.random(cout * cin * kh * kw, seed: 9)
        let oh = (h + 2 * pad - kh) / stride + 1, ow = (w + 2 * pad - kw) / stride + 1
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(cout * oh * ow)
            try gpu.ops.conv2d(seq, x: try r.input(x), weight: try r.input(wt), bias: nil, y: out, cin: cin, h: h, w: w, cout: cout,
                               kernel: (kh, kw), stride: (stride, stride), padding: (pad, pad))
        }
        let want = CPUReference.conv2d(x, wt, nil, cin: cin, h: h, wd: w, cout: cout, kh: kh, kw: kw, stride: stride, pad: pad, groups: 1)
        GPUHarness.expectClose(try out.read(), want, nmse: 1e-11, "conv2d \(kh)x\(kw) s\(stride)")
        #expect(try run.guardsIntact())
    }

    @Test(arguments: [("zeros", false), ("zeros", true), ("border", false), ("border", true)])
    func gridSampleMatchesPyTorch(padding: String, align: Bool) throws {
        let gpu = try gpu
        let g = GPUHarness.golden
        let x = try g.tensor("grid_sample.input").floats(), grid = try g.tensor("grid_sample.grid").floats()
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(3 * 13)
            try gpu.ops.gridSample2D(seq, x: try r.input(x), grid: try r.input(grid), y: out, c: 3, h: 7, w: 9, points: 13,
                                     border: padding == "border", alignCorners: align)
        }
        GPUHarness.expectClose(try out.read(), try g.tensor("grid_sample.\(padding).\(align ? "align" : "noalign")").floats(),
                               nmse: 1e-11, "grid_sample \(padding) align=\(align)")
        #expect(try run.guardsIntact())
    }

    /// An input whose last texel would reach past its buffer takes the storage-buffer variant.
    @Test func gridSampleWithoutTexelViewMatchesPyTorch() throws {
        let gpu = try gpu
        let g = GPUHarness.golden
        let x = try g.tensor("grid_sample.input").floats(), grid = try g.tensor("grid_sample.grid").floats()
        let input = try DeviceBuffer(device: gpu.device, byteCount: x.count * 4)
        try input.write(x)
        let xs = BufferSlice(buffer: input, offset: 0, byteCount: x.count * 4)
        #expect(!xs.texelViewable(alignment: gpu.device.texelAlignment))
        var out: BufferSlice!
        let run = try gpu.run { seq, r in
            out = try r.output(3 * 13)
            try gpu.ops.gridSample2D(seq, x: xs, grid: try r.input(grid), y: out, c: 3, h: 7, w: 9, points: 13, border: true, alignCorners: false)
        }
        GPUHarness.expectClose(try out.read(), try g.tensor("grid_sample.border.noalign").floats(), nmse: 1e-11, "grid_sample storage path")
        #expect(try run.guardsIntact())
    }

    @Test func recordedSequencesReplay() throws {
        let gpu = try gpu
        let arena = try BufferArena(device: gpu.device, byteCount: 1 << 20)
        let x = try arena.allocate(floats: 100), y = try arena.allocate(floats: 100)
        try x.write((0..<100).map { Float($0) - 50 })
        let seq = try CommandSequence(device: gpu.device)
        try gpu.ops.activation(seq, .relu, x: x, y: y, count: 100)
        try seq.run()
        #expect(try y.read()[0] == 0 && y.read()[99] == 49)
        // Same command buffer, new inputs.
        try x.write((0..<100).map { 50 - Float($0) })
        try seq.run()
        #expect(try y.read()[0] == 50 && y.read()[99] == 0)
    }

    @Test func arenaReportsOutOfMemory() throws {
        let gpu = try gpu
        let arena = try BufferArena(device: gpu.device, byteCount: 1024)
        _ = try arena.allocate(floats: 200)
        #expect(throws: VulkanError.self) { try arena.allocate(floats: 100) }
        arena.reset()
        _ = try arena.allocate(floats: 200)
    }

    @Test func shapeMisuseIsAnError() throws {
        let gpu = try gpu
        let arena = try BufferArena(device: gpu.device, byteCount: 1 << 16)
        let small = try arena.allocate(floats: 4)
        let seq = try CommandSequence(device: gpu.device)
        #expect(throws: OperatorError.self) {
            try gpu.ops.matmul(seq, a: small, b: small, c: small, m: 3, n: 3, k: 3)
        }
    }
}

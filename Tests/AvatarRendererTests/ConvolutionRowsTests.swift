import AvatarGraph
import AvatarOperators
import AvatarVulkan
import Testing

/// `Graph.conv2dRows` / `conv3dRows` (conv2d_rows.comp, conv3d_rows.comp) against `Graph.conv2d` / `conv3d` on
/// shapes that exercise partial row runs, borders, clamped channel groups, zero-padded output channels, wider
/// kernels and the fallback.
struct ConvolutionRowsTests {
    @Test(arguments: [
        // (cin, h, w, cout, kernel, padding)
        (3, 7, 20, 12, 3, 1),   // OW 20: the last run of each row holds 4 pixels; Cout 12: a clamped channel group
        (5, 9, 12, 36, 5, 2),   // 5×5, window edges at both sides
        (4, 6, 8, 8, 1, 0),     // 1×1
        (2, 10, 16, 20, 3, 0),  // "valid" padding, OH/OW shrink
        (3, 6, 10, 8, 3, 1),    // W % 4 ≠ 0: falls back to conv2d
        (4, 6, 16, 3, 7, 3),    // Cout 3: zero-padded to 4 channels, the first 3 sliced out
        (3, 5, 12, 1, 3, 1),    // Cout 1
    ])
    func matchesConv2d(_ shape: (Int, Int, Int, Int, Int, Int)) throws {
        let (cin, h, w, cout, k, pad) = shape
        let (_, ops) = try RendererGPU.get()
        let g = Graph(name: "conv2d_rows_test", ops: ops)
        let x = try g.input("x", [cin, h, w])
        let weight = try g.input("weight", [cout, cin, k, k]), bias = try g.input("bias", [cout])
        try g.output("rows", try g.conv2dRows(x, weight: weight, bias: bias, padding: pad))
        try g.output("gemm", try g.conv2d(x, weight: weight, bias: bias, padding: pad))
        let net = try g.plan()
        var state: UInt32 = 12345
        func values(_ n: Int) -> [Float] {
            (0..<n).map { _ in state = state &* 1664525 &+ 1013904223; return Float(state >> 8) / Float(1 << 24) * 2 - 1 }
        }
        try net.write("x", values(cin * h * w))
        try net.write("weight", values(cout * cin * k * k))
        try net.write("bias", values(cout))
        try net.run()
        let rows = try net.read("rows"), gemm = try net.read("gemm")
        #expect(rows.count == gemm.count && rows.count == cout * (h + 2 * pad - k + 1) * (w + 2 * pad - k + 1))
        let worst = zip(rows, gemm).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-5, "max |Δ| \(worst)")
    }

    @Test(arguments: [
        // (cin, d, h, w, cout, kernel)
        (3, 4, 6, 16, 20, 3),   // 16-voxel runs, a clamped channel group
        (4, 3, 5, 8, 5, 7),     // Cout 5 (the torso's mask conv): zero-padded to 8 channels
        (2, 3, 4, 6, 8, 3),     // W % 4 ≠ 0: falls back to conv3d
    ])
    func conv3dMatchesConv3d(_ shape: (Int, Int, Int, Int, Int, Int)) throws {
        let (cin, d, h, w, cout, k) = shape
        let (_, ops) = try RendererGPU.get()
        let g = Graph(name: "conv3d_rows_test", ops: ops)
        let x = try g.input("x", [cin, d, h, w])
        let weight = try g.input("weight", [cout, cin, k, k, k]), bias = try g.input("bias", [cout])
        try g.output("rows", try g.conv3dRows(x, weight: weight, bias: bias))
        try g.output("gemm", try g.conv3d(x, weight: weight, bias: bias))
        let net = try g.plan()
        var state: UInt32 = 54321
        func values(_ n: Int) -> [Float] {
            (0..<n).map { _ in state = state &* 1664525 &+ 1013904223; return Float(state >> 8) / Float(1 << 24) * 2 - 1 }
        }
        try net.write("x", values(cin * d * h * w))
        try net.write("weight", values(cout * cin * k * k * k))
        try net.write("bias", values(cout))
        try net.run()
        let rows = try net.read("rows"), gemm = try net.read("gemm")
        #expect(rows.count == gemm.count && rows.count == cout * d * h * w)
        let worst = zip(rows, gemm).map { abs($0 - $1) }.max() ?? .infinity
        print("conv3d_rows graph \(shape): max |Δ| \(worst)")
        #expect(worst <= 1e-5, "max |Δ| \(worst)")
    }
}

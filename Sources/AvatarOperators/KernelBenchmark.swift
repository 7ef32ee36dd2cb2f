public import AvatarVulkan
import Foundation

/// The kernel benchmark behind `avatard bench kernels`: each case is recorded once into a command sequence
/// and replayed; the best replay time is reported with its throughput. Not a test: figures go into
/// docs/performance.md.
public struct KernelBenchmark: Sendable {
    public struct Result: Sendable, Codable {
        public var name: String
        public var description: String
        public var seconds: Double
        /// GFLOP/s for compute-bound cases, GB/s for memory-bound ones, 0 for the per-dispatch cost.
        public var rate: Double
        public var unit: String
    }

    public let ops: Operators
    public var device: VulkanDevice { ops.library.device }

    /// What a replay is timed by: wall time, or the process's CPU time (all of a CPU driver's worker threads),
    /// steadier on a shared machine for comparing kernels on lavapipe; meaningless for a GPU.
    public enum Timing: Sendable { case wall, processCPU }
    public var timing: Timing

    public init(ops: Operators, timing: Timing = .wall) {
        self.ops = ops
        self.timing = timing
    }

    static func processCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Records once, runs once to warm up (pipelines, caches), then times `repeats` replays (best of).
    func time(repeats: Int, arenaBytes: Int, _ record: (CommandSequence, BufferArena) throws -> Void) throws -> Double {
        let arena = try BufferArena(device: device, byteCount: arenaBytes)
        let seq = try CommandSequence(device: device)
        try record(seq, arena)
        try seq.run()
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            if timing == .processCPU {
                let t = Self.processCPUSeconds()
                try seq.run()
                best = min(best, Self.processCPUSeconds() - t)
                continue
            }
            let t = ContinuousClock.now
            try seq.run()
            let d = ContinuousClock.now - t
            best = min(best, Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
        }
        return best
    }

    static func fill(_ slice: BufferSlice, seed: Int) throws {
        var x = UInt32(truncatingIfNeeded: seed &* 2_654_435_761 &+ 1)
        try slice.write((0..<slice.count).map { _ in
            x ^= x << 13; x ^= x >> 17; x ^= x << 5
            return Float(x % 2001) / 1000 - 1
        })
    }

    /// C = A·B for n×n matrices.
    public func matmul(_ n: Int) throws -> Result {
        let s = try time(repeats: n >= 2048 ? 2 : 4, arenaBytes: 3 * n * n * 4 + (1 << 16)) { seq, arena in
            let a = try arena.allocate(floats: n * n), b = try arena.allocate(floats: n * n), c = try arena.allocate(floats: n * n)
            try Self.fill(a, seed: 1)
            try Self.fill(b, seed: 2)
            try ops.matmul(seq, a: a, b: b, c: c, m: n, n: n, k: n)
        }
        return Result(name: "matmul_\(n)", description: "matmul \(n)³ (fp32)", seconds: s,
                      rate: 2 * Double(n * n * n) / s / 1e9, unit: "GFLOP/s")
    }

    /// 3×3 conv, stride 1, padding 1, c→c channels at 256×256 (implicit GEMM).
    public func conv3x3(channels c: Int, size hw: Int = 256) throws -> Result {
        let s = try time(repeats: c >= 256 ? 1 : 2, arenaBytes: (2 * c * hw * hw + c * c * 9 + c) * 4 + (1 << 16)) { seq, arena in
            let x = try arena.allocate(floats: c * hw * hw), w = try arena.allocate(floats: c * c * 9), y = try arena.allocate(floats: c * hw * hw)
            let bias = try arena.allocate(floats: c)
            try Self.fill(x, seed: 3)
            try Self.fill(w, seed: 4)
            try Self.fill(bias, seed: 5)
            try ops.conv2d(seq, x: x, weight: w, bias: bias, y: y, cin: c, h: hw, w: hw, cout: c, kernel: (3, 3), padding: (1, 1))
        }
        return Result(name: "conv3x3_\(hw)x\(hw)_c\(c)", description: "conv2d 3×3, \(c)→\(c) ch, \(hw)², pad 1", seconds: s,
                      rate: 2 * Double(c * c * 9 * hw * hw) / s / 1e9, unit: "GFLOP/s")
    }

    /// 3×3 conv, stride 1, padding 1, c→c channels at hw² on the row-run kernel (conv2d_rows) with the given tile.
    public func conv3x3Rows(channels c: Int, size hw: Int, tile: Operators.RowsTile) throws -> Result {
        let s = try time(repeats: 3, arenaBytes: (2 * c * hw * hw + c * c * 9 + c) * 4 + (1 << 16)) { seq, arena in
            let x = try arena.allocate(floats: c * hw * hw), w = try arena.allocate(floats: c * c * 9), y = try arena.allocate(floats: c * hw * hw)
            let bias = try arena.allocate(floats: c)
            try Self.fill(x, seed: 3)
            try Self.fill(w, seed: 4)
            try Self.fill(bias, seed: 5)
            try ops.conv2dRows(seq, x: x, tapMajorWeight: w, bias: bias, y: y, cin: c, h: hw, w: hw, cout: c, kernel: (3, 3),
                               padding: (1, 1), tile: tile)
        }
        return Result(name: "conv3x3_rows_\(tile.rawValue)_\(hw)x\(hw)_c\(c)",
                      description: "conv2d_rows 3×3 \(tile.run) px × \(tile.channels) ch, \(c)→\(c) ch, \(hw)²", seconds: s,
                      rate: 2 * Double(c * c * 9 * hw * hw) / s / 1e9, unit: "GFLOP/s")
    }

    /// Conv3d, stride 1, "same" padding, on the implicit-GEMM kernel (conv3d_gemm) or the row-run kernel
    /// (conv3d_rows, tap-major weights): the torso model's hourglass and fuser shapes.
    public func conv3d(cin: Int, cout: Int, size: (d: Int, h: Int, w: Int), kernel k: Int, rows: Operators.RowsTile?) throws -> Result {
        let voxels = size.d * size.h * size.w, taps = k * k * k
        let s = try time(repeats: 1, arenaBytes: ((cin + cout) * voxels + cin * cout * taps + cout) * 4 + (1 << 16)) { seq, arena in
            let x = try arena.allocate(floats: cin * voxels), w = try arena.allocate(floats: cin * cout * taps)
            let y = try arena.allocate(floats: cout * voxels), bias = try arena.allocate(floats: cout)
            try Self.fill(x, seed: 6)
            try Self.fill(w, seed: 7)
            try Self.fill(bias, seed: 8)
            if let rows {
                try ops.conv3dRows(seq, x: x, tapMajorWeight: w, bias: bias, y: y, cin: cin, size: size, cout: cout,
                                   kernel: (k, k, k), padding: (k / 2, k / 2, k / 2), tile: rows)
            } else {
                try ops.conv3d(seq, x: x, weight: w, bias: bias, y: y, cin: cin, size: size, cout: cout, kernel: (k, k, k),
                               padding: (k / 2, k / 2, k / 2))
            }
        }
        let shape = "\(size.d)x\(size.h)x\(size.w)"
        let kind = rows.map { "rows_\($0.rawValue)" } ?? "gemm"
        return Result(name: "conv3d_\(kind)_k\(k)_\(shape)_c\(cin)_\(cout)",
                      description: "conv3d \(k)³ \(kind), \(cin)→\(cout) ch, \(shape)", seconds: s,
                      rate: 2 * Double(cin * cout * taps * voxels) / s / 1e9, unit: "GFLOP/s")
    }

    /// 8 heads × 64, sequence n: softmax(10·QKᵀ)·V (the A2M attention shape at 768 frames), fused or composed.
    public func attention(sequence n: Int = 768, fused: Bool = true) throws -> Result {
        let heads = 8, d = 64
        let s = try time(repeats: 3, arenaBytes: (4 * heads * n * d + heads * n * n) * 4 + (1 << 16)) { seq, arena in
            let q = try arena.allocate(floats: heads * n * d), k = try arena.allocate(floats: heads * n * d)
            let v = try arena.allocate(floats: heads * n * d), out = try arena.allocate(floats: heads * n * d)
            let scores = try arena.allocate(floats: heads * n * n)
            for (i, t) in [q, k, v].enumerated() { try Self.fill(t, seed: 10 + i) }
            try ops.attention(seq, q: q, k: k, v: v, out: out, scores: scores, heads: heads, queries: n, keys: n, headDim: d, scale: 10,
                              fused: fused)
        }
        let flops = 2.0 * 2.0 * Double(heads * n * n * d)
        return Result(name: fused ? "attention_\(n)" : "attention_\(n)_composed",
                      description: "attention 8 heads × 64, seq \(n), \(fused ? "fused (online softmax)" : "composed (QKᵀ·10 → softmax → ·V)")",
                      seconds: s, rate: flops / s / 1e9, unit: "GFLOP/s")
    }

    /// 1.5 M bilinear samples of a 32-channel 256² plane (the tri-plane lookup of one frame).
    public func gridSample(points: Int = 1_500_000) throws -> Result {
        let c = 32, hw = 256
        let s = try time(repeats: 2, arenaBytes: (c * hw * hw + 2 * points + c * points) * 4 + (1 << 16)) { seq, arena in
            let plane = try arena.allocate(floats: c * hw * hw), grid = try arena.allocate(floats: 2 * points)
            let y = try arena.allocate(floats: c * points)
            try Self.fill(plane, seed: 20)
            try Self.fill(grid, seed: 21)
            try ops.gridSample2D(seq, x: plane, grid: grid, y: y, c: c, h: hw, w: hw, points: points, border: false, alignCorners: false)
        }
        // Bytes moved: the grid read, 4 taps per channel, the output write.
        let bytes = Double(points) * (8 + Double(c) * (16 + 4))
        return Result(name: "grid_sample_1.5M", description: "grid_sample 2-D bilinear, 32 ch × 256², 1.5 M points", seconds: s,
                      rate: bytes / s / 1e9, unit: "GB/s")
    }

    /// A chain of `count` tiny dependent dispatches recorded once and replayed: the fixed cost per dispatch.
    public func dispatchOverhead(count: Int = 200) throws -> Result {
        let s = try time(repeats: 10, arenaBytes: 1 << 16) { seq, arena in
            let x = try arena.allocate(floats: 64), y = try arena.allocate(floats: 64)
            for i in 0..<count {
                try ops.activation(seq, .relu, x: i % 2 == 0 ? x : y, y: i % 2 == 0 ? y : x, count: 64)
            }
        }
        return Result(name: "dispatch_overhead_x\(count)", description: "\(count) tiny dependent dispatches, one submit (per dispatch)",
                      seconds: s / Double(count), rate: 0, unit: "s/dispatch")
    }
}

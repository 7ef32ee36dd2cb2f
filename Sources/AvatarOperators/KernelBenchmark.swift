public import AvatarVulkan
import Foundation

/// The kernel benchmark behind `avatard bench kernels`: each case is recorded once and replayed; the
/// best of a few runs is reported with its throughput.
public struct KernelBenchmark: Sendable {
    public struct Result: Sendable, Codable {
        public var name: String
        public var seconds: Double
        /// GFLOP/s for compute-bound cases, GB/s for memory-bound ones.
        public var rate: Double
        public var unit: String
    }

    public let ops: Operators
    public var device: VulkanDevice { ops.library.device }

    public init(ops: Operators) { self.ops = ops }

    /// Runs `record` once into a sequence, then times replays (best of `repeats` after one warm-up).
    func time(repeats: Int, arenaBytes: Int, _ record: (CommandSequence, BufferArena) throws -> Void) throws -> Double {
        let arena = try BufferArena(device: device, byteCount: arenaBytes)
        let seq = try CommandSequence(device: device)
        try record(seq, arena)
        try seq.run()
        var best = Double.infinity
        for _ in 0..<repeats {
            let t = ContinuousClock.now
            try seq.run()
            let d = ContinuousClock.now - t
            best = min(best, Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
        }
        return best
    }

    static func fill(_ slice: BufferSlice, seed: Int) throws {
        var x = UInt32(truncatingIfNeeded: seed * 2_654_435_761 + 1)
        try slice.write((0..<slice.count).map { _ in
            x ^= x << 13; x ^= x >> 17; x ^= x << 5
            return Float(x % 2001) / 1000 - 1
        })
    }

    public func matmul(_ n: Int) throws -> Result {
        let s = try time(repeats: n >= 2048 ? 2 : 5, arenaBytes: 3 * n * n * 4 + (1 << 16)) { seq, arena in
            let a = try arena.allocate(floats: n * n), b = try arena.allocate(floats: n * n), c = try arena.allocate(floats: n * n)
            try Self.fill(a, seed: 1)
            try Self.fill(b, seed: 2)
            try ops.matmul(seq, a: a, b: b, c: c, m: n, n: n, k: n)
        }
        return Result(name: "matmul_\(n)", seconds: s, rate: 2 * Double(n * n * n) / s / 1e9, unit: "GFLOP/s")
    }

    public func conv3x3(channels c: Int) throws -> Result {
        let hw = 256
        let s = try time(repeats: 2, arenaBytes: (2 * c * hw * hw + c * c * 9) * 4 + (1 << 16)) { seq, arena in
            let x = try arena.allocate(floats: c * hw * hw), w = try arena.allocate(floats: c * c * 9), y = try arena.allocate(floats: c * hw * hw)
            try Self.fill(x, seed: 3)
            try Self.fill(w, seed: 4)
            try ops.conv2d(seq, x: x, weight: w, bias: nil, y: y, cin: c, h: hw, w: hw, cout: c, kernel: (3, 3), padding: (1, 1))
        }
        return Result(name: "conv3x3_256x256_c\(c)", seconds: s, rate: 2 * Double(c * c * 9 * hw * hw) / s / 1e9, unit: "GFLOP/s")
    }

    /// 8 heads, head dim 64: QKᵀ·10 → softmax → ·V.
    public func attention(sequence n: Int = 768) throws -> Result {
        let heads = 8, d = 64
        let s = try time(repeats: 3, arenaBytes: (4 * heads * n * d + 2 * heads * n * n) * 4 + (1 << 16)) { seq, arena in
            let q = try arena.allocate(floats: heads * n * d), k = try arena.allocate(floats: heads * n * d), v = try arena.allocate(floats: heads * n * d)
            let scores = try arena.allocate(floats: heads * n * n), probs = try arena.allocate(floats: heads * n * n)
            let out = try arena.allocate(floats: heads * n * d)
            for (i, t) in [q, k, v].enumerated() { try Self.fill(t, seed: 10 + i) }
            try ops.matmul(seq, a: q, b: k, c: scores, m: n, n: n, k: d, batch: heads, transposeB: true, batchStrideB: n * d)
            try ops.softmax(seq, x: scores, y: probs, rows: heads * n, d: n, scale: 10)
            try ops.matmul(seq, a: probs, b: v, c: out, m: n, n: d, k: n, batch: heads)
        }
        let flops = 2.0 * 2.0 * Double(heads * n * n * d)
        return Result(name: "attention_\(n)", seconds: s, rate: flops / s / 1e9, unit: "GFLOP/s")
    }

    /// 1.5 M bilinear samples of a 32-channel 256² plane.
    public func gridSample(points: Int = 1_500_000) throws -> Result {
        let c = 32, hw = 256
        let s = try time(repeats: 2, arenaBytes: (c * hw * hw + 2 * points + c * points) * 4 + (1 << 16)) { seq, arena in
            let plane = try arena.allocate(floats: c * hw * hw), grid = try arena.allocate(floats: 2 * points), y = try arena.allocate(floats: c * points)
            try Self.fill(plane, seed: 20)
            try Self.fill(grid, seed: 21)
            try ops.gridSample2D(seq, x: plane, grid: grid, y: y, c: c, h: hw, w: hw, points: points, border: false, alignCorners: false)
        }
        // Bytes moved: grid read + 4 taps per channel + output write.
        let bytes = Double(points) * (8 + Double(c) * (16 + 4))
        return Result(name: "grid_sample_1.5M", seconds: s, rate: bytes / s / 1e9, unit: "GB/s")
    }

    /// 200 tiny dispatches recorded once and replayed: the fixed cost per dispatch.
    public func dispatchOverhead(count: Int = 200) throws -> Result {
        let s = try time(repeats: 10, arenaBytes: 1 << 16) { seq, arena in
            let x = try arena.allocate(floats: 64), y = try arena.allocate(floats: 64)
            for i in 0..<count {
                try ops.activation(seq, .relu, x: i % 2 == 0 ? x : y, y: i % 2 == 0 ? y : x, count: 64)
            }
        }
        return Result(name: "dispatch_overhead_x\(count)", seconds: s / Double(count), rate: 0, unit: "s/dispatch")
    }
}

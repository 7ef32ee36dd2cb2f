import AvatarFormats
import AvatarGraph
import AvatarOperators
import AvatarRenderer
import AvatarVulkan
import Foundation
import Testing

/// The NeRF (`RendererGraphBuilder.nerf`) against renderer.py `nerf` with the reference's own planes_raw, camera
/// and draws.
///
/// Tolerances: the engine runs float32 against a float64 reference rounded to float32. Each output goes through
/// ~10 dependent stages (ray directions → box limits → 48 depths → plane samples → 2 linears → cumulative
/// transmittance over 24–96 intervals → importance inverse-CDF → a second decode and march), so float32 rounding
/// grows to a few 1e-6 relative; depths are ≈ 2.4 (absolute error ~ a few ulp of 2.4 = 2.4e-7 per ulp).
/// The sampler is discontinuous only where an importance draw lands on a cdf knot (zf is continuous there: both
/// sides give the bin edge) or the merge of coarse and fine depths swaps near-equal depths (the two samples sit at
/// the same point, so the march changes by O(Δz)): no near-tie can move a ray by more than the float32 noise, so
/// the max tolerances stay tight (measured: max 1.9e-6, mean ≤ 4.6e-7 on every output); the errors are printed.
@Suite("RendererNeRF", .serialized)
struct RendererNeRFTests {
    static let maxFeature = 5e-6, meanFeature = 1e-6
    static let maxWeights = 5e-6, meanWeights = 1e-6
    static let maxDepth = 5e-6, meanDepth = 1e-6

    /// The NeRF graph over inputs planes, camera, rand_stratified, rand_importance; outputs feature, weights, depth.
    static func network(_ f: RendererFixture, fused: Bool?) throws -> GraphNetwork {
        let b = f.builder("nerf"), c = f.config
        let planes = try b.g.input("planes", [3, c.planeCh, c.planeRes, c.planeRes])
        let camera = try b.g.input("camera", [25])
        let rs = try b.g.input("rand_stratified", [c.rays, c.samplesCoarse])
        let ri = try b.g.input("rand_importance", [c.rays, c.samplesFine])
        let out = try b.nerf(planes: planes, camera: camera, randStratified: rs, randImportance: ri, fusedDecoder: fused)
        #expect(out.feature.shape == [c.hid, c.nerfRes, c.nerfRes] && out.weights.shape == [1, c.nerfRes, c.nerfRes]
                && out.depth.shape == [1, c.nerfRes, c.nerfRes])
        try b.g.output("feature", out.feature)
        try b.g.output("weights", out.weights)
        try b.g.output("depth", out.depth)
        return try b.g.plan()
    }

    static func run(_ f: RendererFixture, camera: [Float], fused: Bool? = nil) throws -> GraphNetwork {
        let net = try network(f, fused: fused)
        try net.write("planes", f.values("planes_raw"))
        try net.write("camera", camera)
        try net.write("rand_stratified", f.values("rand_stratified"))
        try net.write("rand_importance", f.values("rand_importance"))
        try net.run()
        return net
    }

    /// Both decoder forms: fused into the sampling kernel (GPUs) and sampling + generic linears (CPU drivers).
    @Test("feature, weights and depth images match the reference", arguments: ["small", "trigrid"], [true, false])
    func parity(_ name: String, fused: Bool) throws {
        let f = try RendererFixture(name)
        print("renderer \(name) nerf, \(fused ? "fused decoder" : "sampling + linears"):")
        let net = try Self.run(f, camera: try f.values("camera"), fused: fused)
        try f.expectClose(net.read("feature"), "feature_image", maxAbs: Self.maxFeature, meanAbs: Self.meanFeature)
        try f.expectClose(net.read("weights"), "weights_image", maxAbs: Self.maxWeights, meanAbs: Self.meanWeights)
        try f.expectClose(net.read("depth"), "depth_image", maxAbs: Self.maxDepth, meanAbs: Self.meanDepth)
    }

    /// tools/make_nerf_miss_fixture.py: a wide-angle camera (focal 2.0) under which 79 of the 256 rays miss the box.
    static func missFixture() throws -> SafeTensorsFile {
        try SafeTensorsFile(url: RendererFixture.directory.appendingPathComponent("small_nerf_miss.safetensors"))
    }

    static func expectClose(_ got: [Float], _ want: [Float], _ what: String, maxAbs: Double, meanAbs: Double,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(got.count == want.count, "\(what): \(got.count) values, reference has \(want.count)", sourceLocation: sourceLocation)
        guard got.count == want.count else { return }
        let deltas = zip(got, want).map { Double(abs($0 - $1)) }
        let worst = deltas.map { $0.isNaN ? .infinity : $0 }.max() ?? 0, mean = deltas.reduce(0, +) / Double(max(1, deltas.count))
        print("renderer nerf \(what): max |Δ| \(worst), mean |Δ| \(mean) (tolerances \(maxAbs) / \(meanAbs))")
        #expect(worst <= maxAbs && mean <= meanAbs, "\(what): max |Δ| \(worst), mean \(mean)", sourceLocation: sourceLocation)
    }

    @Test("rays that miss the box start at the minimum valid start and end at the maximum valid start")
    func invalidRayLimits() throws {
        let f = try RendererFixture("small"), miss = try Self.missFixture()
        let m = f.config.rays, r = f.config.nerfRes, box = f.config.boxWarp
        let g = Graph(name: "nerf_limits", ops: f.ops), ops = f.ops
        let camera = try g.input("camera", [25])
        let rays = try g.node("nerf_rays", reads: [camera], output: [m, 8]) { seq, b, y in
            try ops.nerfRays(seq, camera: b[camera], rays: b[y], resolution: r, boxWarp: box)
        }
        let limits = try g.node("nerf_ray_limits", reads: [rays], output: [m, 2]) { seq, b, y in
            try ops.nerfRayLimits(seq, rays: b[rays], limits: b[y], count: m)
        }
        try g.output("rays", rays)
        try g.output("limits", limits)
        let net = try g.plan()
        try net.write("camera", try miss.tensor("camera").floats())
        try net.run()
        let raw = try net.read("rays"), got = try net.read("limits")
        let invalid = try miss.tensor("invalid").floats(), start = try miss.tensor("ray_start").floats()
        let end = try miss.tensor("ray_end").floats()
        // The engine's own verdict (end > start on the raw slab limits) is the reference's on every ray.
        let engineInvalid = (0..<m).map { raw[8 * $0 + 7] > raw[8 * $0 + 6] ? Float(0) : 1 }
        #expect(engineInvalid == invalid)
        #expect(invalid.contains(1) && invalid.contains(0))
        // Every invalid ray shares one interval: [min valid start, max valid start] (not the max valid end).
        let validStarts = (0..<m).filter { invalid[$0] == 0 }.map { start[$0] }
        let quirk = (validStarts.min()!, validStarts.max()!)
        for i in 0..<m where invalid[i] == 1 {
            #expect(start[i] == quirk.0 && end[i] == quirk.1)
        }
        Self.expectClose((0..<m).map { got[2 * $0] }, start, "ray start (miss camera)", maxAbs: 2e-6, meanAbs: 5e-7)
        Self.expectClose((0..<m).map { got[2 * $0 + 1] }, end, "ray end (miss camera)", maxAbs: 2e-6, meanAbs: 5e-7)
    }

    @Test("the whole NeRF matches the reference when rays miss the box")
    func invalidRayParity() throws {
        let f = try RendererFixture("small"), miss = try Self.missFixture()
        let net = try Self.run(f, camera: try miss.tensor("camera").floats())
        Self.expectClose(try net.read("feature"), try miss.tensor("feature_image").floats(), "feature (miss camera)",
                         maxAbs: Self.maxFeature, meanAbs: Self.meanFeature)
        Self.expectClose(try net.read("weights"), try miss.tensor("weights_image").floats(), "weights (miss camera)",
                         maxAbs: Self.maxWeights, meanAbs: Self.meanWeights)
        Self.expectClose(try net.read("depth"), try miss.tensor("depth_image").floats(), "depth (miss camera)",
                         maxAbs: Self.maxDepth, meanAbs: Self.meanDepth)
    }

    @Test("the NeRF drawing its own randoms is repeatable per seed and differs across seeds")
    func seededNeRF() throws {
        let f = try RendererFixture("small"), c = f.config
        let b = f.builder("nerf_seeded")
        let planes = try b.g.input("planes", [3, c.planeCh, c.planeRes, c.planeRes])
        let camera = try b.g.input("camera", [25]), seed = try b.g.input("seed", [1])
        let out = try b.nerf(planes: planes, camera: camera, seed: seed)
        try b.g.output("weights", out.weights)
        let net = try b.g.plan()
        try net.write("planes", f.values("planes_raw"))
        try net.write("camera", f.values("camera"))
        func weights(_ s: UInt32) throws -> [Float] {
            try net.write("seed", [Float(bitPattern: s)])
            try net.run()
            return try net.read("weights")
        }
        let a = try weights(1), again = try weights(1), other = try weights(2)
        #expect(a == again && a != other)
        // Other draws of the same field: close to the reference's image on average, not equal.
        let reference = try f.values("weights_image")
        let mean = zip(a, reference).map { Double(abs($0 - $1)) }.reduce(0, +) / Double(a.count)
        #expect(mean > 0 && mean < 0.05, "mean |Δ| \(mean) against the reference's draws")
    }

    @Test("device draws are uniform in [0, 1), repeatable per seed, independent across seeds and streams")
    func uniformRandoms() throws {
        let f = try RendererFixture("small")
        let b = f.builder("randoms")
        let seed = try b.g.input("seed", [1])
        let n = 1 << 16
        try b.g.output("a", try b.uniformRandoms(shape: [256, n / 256], seed: seed, stream: 0))
        try b.g.output("b", try b.uniformRandoms(shape: [n], seed: seed, stream: 1))
        let net = try b.g.plan()
        func draw(_ s: UInt32) throws -> ([Float], [Float]) {
            try net.write("seed", [Float(bitPattern: s)])
            try net.run()
            return (try net.read("a"), try net.read("b"))
        }
        let (a1, b1) = try draw(7), (a2, _) = try draw(7), (a3, _) = try draw(8)
        #expect(a1 == a2)
        #expect(a1.allSatisfy { $0 >= 0 && $0 < 1 })
        for x in [a1, b1, a3] {
            let mean = x.reduce(0, +) / Float(n), variance = x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(n)
            // n = 65536 draws: the mean's standard error is 0.29/256 ≈ 1.1e-3.
            #expect(abs(mean - 0.5) < 6e-3 && abs(variance - 1.0 / 12) < 3e-3, "mean \(mean), variance \(variance)")
            // 16 equal bins of 4096 expected draws each (σ ≈ 62).
            var bins = [Int](repeating: 0, count: 16)
            for v in x { bins[Int(v * 16)] += 1 }
            #expect(bins.allSatisfy { abs($0 - n / 16) < 400 }, "bins \(bins)")
        }
        func correlation(_ x: [Float], _ y: [Float]) -> Float {
            zip(x, y).map { ($0 - 0.5) * ($1 - 0.5) }.reduce(0, +) / Float(x.count) * 12
        }
        #expect(abs(correlation(a1, b1)) < 0.02 && abs(correlation(a1, a3)) < 0.02)
        #expect(abs(correlation(Array(a1.dropFirst()), Array(a1.dropLast()))) < 0.02)
    }
}

/// Synthetic tensors of any requested name and shape (uniform in ±scale/√fan-in), for timing at the official size.
final class NeRFSyntheticWeights: WeightSource {
    let arena: BufferArena
    var made: [String: Tensor] = [:]
    var shapes: [String: [Int]]
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15

    init(device: VulkanDevice, shapes: [String: [Int]]) throws {
        self.shapes = shapes
        arena = try BufferArena(device: device, byteCount: shapes.values.map { $0.reduce(4, *) + 256 }.reduce(1 << 12, +))
    }

    func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) / Float(1 << 24) * 2 - 1
    }

    func weightTensor(_ name: String) -> Tensor? {
        if let t = made[name] { return t }
        guard let shape = shapes[name], let t = try? Tensor(shape: shape, in: arena) else { return nil }
        let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : 1
        let scale = 2 / Float(fanIn).squareRoot()
        try? t.write((0..<t.count).map { _ in next() * scale })
        made[name] = t
        return t
    }
}

/// Full-size timing (not a unit test; `AVATARD_RENDERER_BENCH=1 swift test --filter RendererNeRFBench`): the
/// official RendererConfig() NeRF (128² rays × 48 + 48 samples, 3 × 32 channels at 256², decoder 32 → 64 → 33).
@Suite("RendererNeRFBench", .serialized, .enabled(if: ProcessInfo.processInfo.environment["AVATARD_RENDERER_BENCH"] != nil))
struct RendererNeRFBench {
    @Test(arguments: [true, false]) func officialSize(fused: Bool) throws {
        let (device, ops) = try RendererGPU.get()
        let c = RendererConfig()
        let weights = try NeRFSyntheticWeights(device: device, shapes: [
            "decoder.net.0.weight": [c.decoderHidden, c.hid], "decoder.net.0.bias": [c.decoderHidden],
            "decoder.net.2.weight": [c.hid + 1, c.decoderHidden], "decoder.net.2.bias": [c.hid + 1]])
        let b = RendererGraphBuilder(graph: Graph(name: "nerf", ops: ops), weights: weights, config: c)
        let planes = try b.g.input("planes", [3, c.planeCh, c.planeRes, c.planeRes])
        let camera = try b.g.input("camera", [25])
        let rs = try b.g.input("rand_stratified", [c.rays, c.samplesCoarse])
        let ri = try b.g.input("rand_importance", [c.rays, c.samplesFine])
        let out = try b.nerf(planes: planes, camera: camera, randStratified: rs, randImportance: ri, fusedDecoder: fused)
        try b.g.output("feature", out.feature)
        try b.g.output("weights", out.weights)
        try b.g.output("depth", out.depth)
        let net = try b.g.plan(GraphPlanOptions(timestamps: true))
        var state: UInt32 = 1
        func uniform(_ n: Int) -> [Float] {
            (0..<n).map { _ in state = state &* 1664525 &+ 1013904223; return Float(state >> 8) / Float(1 << 24) }
        }
        try net.write("planes", uniform(3 * c.planeCh * c.planeRes * c.planeRes).map { $0 * 2 - 1 })
        try net.write("camera", try RendererFixture("small").values("camera"))
        try net.write("rand_stratified", uniform(c.rays * c.samplesCoarse))
        try net.write("rand_importance", uniform(c.rays * c.samplesFine))
        try net.run()
        for _ in 0..<3 {
            let start = Date()
            try net.run()
            print("nerf official size (\(fused ? "fused decoder" : "sampling + linears")): \(String(format: "%.3f", Date().timeIntervalSince(start))) s wall per run; GPU "
                  + net.groupTimings(depth: 2).map { "\($0.group) \(String(format: "%.1f", $0.seconds * 1000)) ms" }.joined(separator: ", "))
        }
        let weightsImage = try net.read("weights")
        #expect(weightsImage.allSatisfy { $0.isFinite && $0 >= 0 })
    }
}

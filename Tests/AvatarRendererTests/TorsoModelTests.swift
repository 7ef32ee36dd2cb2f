import AvatarBundle
import AvatarGraph
import AvatarOperators
import AvatarRenderer
import AvatarVulkan
import Foundation
import Testing

/// The warp-based torso model against the float64 reference (`Renderer.torso`), fed the reference's own inputs: the
/// torso image and the feature image's rgb / weights resized to sr_res with the antialiased bilinear resize, as
/// `Renderer.superres` does.
struct TorsoModelTests {
    // Tolerances: float32 engine vs the float64 reference rounded to float32. The outputs pass ~40 convolutions,
    // three trilinear samplings and a softmax; measured float32 rounding: rgb_torso ≤ 1.5e-6 max / 1.2e-7 mean,
    // torso_hidden ≤ 4.2e-7 / 5e-8, torso_alpha ≤ 6e-8 / 4e-8 (small; trigrid lower) on values of magnitude ≤ 1.3.
    // The limits leave ~5–10× headroom and still fail on any wrong tap, index or layout (those move outputs by ≥ 1e-3).
    static let tolerance: [String: (max: Double, mean: Double)] = [
        "rgb_torso": (1e-5, 1e-6), "torso_hidden": (5e-6, 5e-7), "torso_alpha": (1e-6, 3e-7),
    ]

    @Test(arguments: ["small", "trigrid"])
    func matchesTheReference(_ name: String) throws {
        let f = try RendererFixture(name)
        let b = f.builder("torso_\(name)")
        let (g, c) = (b.g, f.config)
        let sr = c.srRes
        let torsoImg = try g.input("ref_torso_img", [3, c.img, c.img])
        let segmap = try g.input("segmap", [6, c.img, c.img])
        let feature = try g.input("feature_image", [c.hid, c.nerfRes, c.nerfRes])
        let weights = try g.input("weights_image", [1, c.nerfRes, c.nerfRes])
        let kpS = try g.input("kp_s", [68, 3]), kpD = try g.input("kp_d", [68, 3])
        let torso256 = try g.resize(torsoImg, to: (sr, sr), mode: .antialias)
        let rgb = try g.view(feature, elementOffset: 0, shape: [3, c.nerfRes, c.nerfRes])
        let headRGB = try g.resize(rgb, to: (sr, sr), mode: .antialias)
        let headW = try g.resize(weights, to: (sr, sr), mode: .antialias)
        let appearance = try b.torsoAppearance(torso256: torso256, segmap: segmap)
        let out = try b.torsoModel(appearance: appearance, kpS: kpS, kpD: kpD, headRGB: headRGB, headWeights: headW)
        try g.output("rgb_torso", out.rgb)
        try g.output("torso_hidden", out.hidden)
        try g.output("torso_alpha", out.alpha)
        #expect(out.rgb.shape == [3, sr, sr] && out.hidden.shape == [c.genCh.last!, sr, sr] && out.alpha.shape == [1, sr, sr])
        let net = try g.plan()
        for key in ["ref_torso_img", "segmap", "feature_image", "weights_image", "kp_s", "kp_d"] {
            try net.write(key, try f.values(key))
        }
        try net.run()
        for key in ["rgb_torso", "torso_hidden", "torso_alpha"] {
            let tol = Self.tolerance[key]!
            try f.expectClose(try net.read(key), key, maxAbs: tol.max, meanAbs: tol.mean)
        }
    }

    /// The keypoint selection matters: feeding kp_d as kp_s (no motion) must move the outputs well past tolerance.
    @Test func keypointsDriveTheWarp() throws {
        let f = try RendererFixture("small")
        let b = f.builder("torso_static")
        let (g, c) = (b.g, f.config)
        let sr = c.srRes
        let torsoImg = try g.input("ref_torso_img", [3, c.img, c.img])
        let segmap = try g.input("segmap", [6, c.img, c.img])
        let kp = try g.input("kp", [68, 3])
        let head = try g.input("head", [4, sr, sr])
        let headRGB = try g.view(head, elementOffset: 0, shape: [3, sr, sr])
        let headW = try g.view(head, elementOffset: 3 * sr * sr, shape: [1, sr, sr])
        let appearance = try b.torsoAppearance(torso256: try g.resize(torsoImg, to: (sr, sr), mode: .antialias), segmap: segmap)
        let out = try b.torsoModel(appearance: appearance, kpS: kp, kpD: kp, headRGB: headRGB, headWeights: headW)
        try g.output("rgb_torso", out.rgb)
        let net = try g.plan()
        try net.write("ref_torso_img", try f.values("ref_torso_img"))
        try net.write("segmap", try f.values("segmap"))
        try net.write("kp", try f.values("kp_d"))
        try net.write("head", [Float](repeating: 0.5, count: 4 * sr * sr))
        try net.run()
        let got = try net.read("rgb_torso"), want = try f.values("rgb_torso")
        let worst = zip(got, want).map { Double(abs($0 - $1)) }.max() ?? 0
        #expect(worst > 1e-3, "static keypoints and another head should change the torso, max |Δ| \(worst)")
    }

    /// conv3d's implicit-GEMM path (groups 1, ≥ 4 output channels: the wide and the narrow tile) against a direct CPU loop.
    @Test(arguments: [(20, 7), (5, 3)])
    func conv3dImplicitGemm(cout: Int, k: Int) throws {
        let f = try RendererFixture("small")
        let g = Graph(name: "conv3d_gemm", ops: f.ops)
        let (cin, d, h, w) = (3, 5, 9, 7)
        var state: UInt64 = 0x9E3779B97F4A7C15
        func rand(_ n: Int) -> [Float] {
            (0..<n).map { _ in state = state &* 6364136223846793005 &+ 1442695040888963407; return Float(Int64(state >> 40) - (1 << 23)) / Float(1 << 23) }
        }
        let xv = rand(cin * d * h * w), wv = rand(cout * cin * k * k * k), bv = rand(cout)
        let x = try g.input("x", [cin, d, h, w]), wt = try g.input("w", [cout, cin, k, k, k]), bias = try g.input("b", [cout])
        try g.output("y", try g.conv3d(x, weight: wt, bias: bias))
        let net = try g.plan()
        try net.write("x", xv); try net.write("w", wv); try net.write("b", bv)
        try net.run()
        let got = try net.read("y")
        let p = k / 2
        var worst = 0.0
        for co in 0..<cout { for z in 0..<d { for y in 0..<h { for xo in 0..<w {
            var acc = Double(bv[co])
            for ci in 0..<cin { for kz in 0..<k { for ky in 0..<k { for kx in 0..<k {
                let (iz, iy, ix) = (z + kz - p, y + ky - p, xo + kx - p)
                guard iz >= 0, iz < d, iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                acc += Double(xv[((ci * d + iz) * h + iy) * w + ix]) * Double(wv[(((co * cin + ci) * k + kz) * k + ky) * k + kx])
            } } } }
            worst = max(worst, abs(acc - Double(got[((co * d + z) * h + y) * w + xo])))
        } } } }
        // Sums of ≤ 1029 products of values in [−1, 1] in float32: rounding stays far below 1e-4.
        #expect(worst < 1e-4, "conv3d \(cout)×\(k)³ max |Δ| \(worst)")
    }

    /// Full-size measurement (not a timed assertion): AVATARD_TORSO_BUNDLE names a bundle converted from a full-size
    /// synthetic checkpoint (tools/synth_checkpoint.py person + tools/convert.py person). Prints wall time per run
    /// and GPU time per group.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["AVATARD_TORSO_BUNDLE"] != nil))
    func fullSizeTiming() throws {
        let dir = URL(fileURLWithPath: ProcessInfo.processInfo.environment["AVATARD_TORSO_BUNDLE"]!)
        let (device, ops) = try RendererGPU.get()
        let manifest = try JSONDecoder().decode(BundleManifest.self, from: Data(contentsOf: dir.appendingPathComponent("manifest.json")))
        let config = try RendererConfig(manifest: manifest.renderer?.config)
        let weights = try WeightStore(url: dir.appendingPathComponent("renderer.safetensors"), device: device)
        for timestamps in [false, true] {
            let b = RendererGraphBuilder(graph: Graph(name: "torso_full", ops: ops), weights: weights, config: config)
            let (g, c) = (b.g, config)
            let sr = c.srRes
            let torso256 = try g.input("torso256", [3, sr, sr]), segmap = try g.input("segmap", [6, c.img, c.img])
            let kpS = try g.input("kp_s", [68, 3]), kpD = try g.input("kp_d", [68, 3])
            let head = try g.input("head", [4, sr, sr])
            let appearance = try b.torsoAppearance(torso256: torso256, segmap: segmap)
            let out = try b.torsoModel(appearance: appearance, kpS: kpS, kpD: kpD,
                                       headRGB: try g.view(head, elementOffset: 0, shape: [3, sr, sr]),
                                       headWeights: try g.view(head, elementOffset: 3 * sr * sr, shape: [1, sr, sr]))
            try g.output("rgb", out.rgb)
            let net = try g.plan(GraphPlanOptions(timestamps: timestamps))
            var state: UInt64 = 1
            func rand(_ n: Int, _ lo: Float, _ hi: Float) -> [Float] {
                (0..<n).map { _ in state = state &* 6364136223846793005 &+ 1442695040888963407; return lo + (hi - lo) * Float(state >> 40) / Float(1 << 24) }
            }
            try net.write("torso256", rand(3 * sr * sr, -1, 1)); try net.write("segmap", rand(6 * c.img * c.img, 0, 1))
            let kp = rand(68 * 3, -0.8, 0.8)
            try net.write("kp_s", kp); try net.write("kp_d", kp.map { $0 + 0.03 }); try net.write("head", rand(4 * sr * sr, 0, 1))
            for run in 0..<(timestamps ? 1 : 2) {
                let start = Date()
                try net.run()
                print("torso full size (timestamps \(timestamps)) run \(run): \(Date().timeIntervalSince(start)) s wall")
            }
            if timestamps {
                for (group, seconds) in net.groupTimings(depth: 3) { print("  \(group): \(seconds) s") }
            }
            #expect(try net.read("rgb").allSatisfy(\.isFinite))
        }
    }
}

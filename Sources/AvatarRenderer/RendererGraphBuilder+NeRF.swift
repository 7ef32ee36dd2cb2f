public import AvatarGraph
import AvatarOperators

/// The tri-plane NeRF at nerf_res² (renderer.py `rays` … `nerf`; docs/renderer.md §5): EG3D rays with the ray–box
/// quirk, stratified + importance sampling, the OSG decoder over the mean of the three (mirrored) planes, and
/// MipRayMarcher2. Dedicated kernels (Operators+NeRF): plane sampling per point (with the decoder MLP fused on GPUs),
/// importance sampling per ray (writing its fine depths ascending), the merge of coarse and fine depths inside the
/// final march per ray; the global reductions (invalid-ray limits, depth clamp) run as one-workgroup kernels on the
/// device. The draws must be uniform in [0, 1) (the coarse depths are then ascending, which the merge relies on).
extension RendererGraphBuilder {
    /// Volume rendering at nerf_res²: planes [3, hid·D, P, P] (bundle orientation), camera [25],
    /// randStratified [M, Nc], randImportance [M, Nf] (uniform draws, ray order m = row·R + column)
    /// → feature image [hid, R, R], weights image [1, R, R], depth image [1, R, R].
    public func nerf(planes: GraphValue, camera: GraphValue, randStratified: GraphValue, randImportance: GraphValue) throws
        -> (feature: GraphValue, weights: GraphValue, depth: GraphValue) {
        try nerf(planes: planes, camera: camera, randStratified: randStratified, randImportance: randImportance, fusedDecoder: nil)
    }

    /// `nerf` with the decoder's form chosen: `fusedDecoder` true runs the MLP inside the per-point sampling kernel
    /// (GPUs: no [points, hid] intermediates); false samples the planes into [points, hid] and runs the two
    /// linears as matmuls (measured on lavapipe at the official size, 786k points per pass: fused ≈ 1.9 s, sampling
    /// + linears ≈ 0.63 s; the CPU driver pays per-lane loads for the uniform weight reads); nil picks by device type.
    public func nerf(planes: GraphValue, camera: GraphValue, randStratified: GraphValue, randImportance: GraphValue,
                     fusedDecoder: Bool?) throws -> (feature: GraphValue, weights: GraphValue, depth: GraphValue) {
        let fused = fusedDecoder ?? (g.device.info.type != .cpu)
        let (r, m, hid, depth, nc, nf) = (c.nerfRes, c.rays, c.hid, c.depth, c.samplesCoarse, c.samplesFine)
        let p = c.planeRes, hidden = c.decoderHidden, box = c.boxWarp
        func require(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw GraphError("\(g.name).nerf: \(message())") }
        }
        try require(planes.shape == [3, c.planeCh, p, p], "planes \(planes.shape), expected [3, \(c.planeCh), \(p), \(p)]")
        try require(camera.count == 25, "camera \(camera.shape), expected 25 values")
        try require(randStratified.shape == [m, nc], "randStratified \(randStratified.shape), expected [\(m), \(nc)]")
        try require(randImportance.shape == [m, nf], "randImportance \(randImportance.shape), expected [\(m), \(nf)]")
        try require(nc >= 4 && nf >= 1 && nc + nf <= 128, "\(nc) coarse and \(nf) fine samples (≥ 4 coarse, ≤ 128 in all)")
        try require(hid <= Operators.nerfMaxHid, "hid \(hid) is above the NeRF kernels' \(Operators.nerfMaxHid)")
        let w1 = try weight("decoder.net.0.weight", [hidden, hid]), b1 = try weight("decoder.net.0.bias", [hidden])
        let w2 = try weight("decoder.net.2.weight", [hid + 1, hidden]), b2 = try weight("decoder.net.2.bias", [hid + 1])
        let ops = g.ops
        // Subgroups so GPU timings split the stages: rays, coarse, importance, fine, march.
        return try g.group("nerf") {
            // Channels-last [3, P, P, hid·D]: one contiguous run of channels per bilinear tap.
            let planes = try g.permute(try g.reshape(planes, [3, c.planeCh, p * p]), [0, 2, 1])
            let (rays, zCoarse) = try g.group("rays") {
                let rays = try g.node("nerf_rays", reads: [camera], output: [m, 8]) { seq, b, y in
                    try ops.nerfRays(seq, camera: b[camera], rays: b[y], resolution: r, boxWarp: box)
                }
                let limits = try g.node("nerf_ray_limits", reads: [rays], output: [m, 2]) { seq, b, y in
                    try ops.nerfRayLimits(seq, rays: b[rays], limits: b[y], count: m)
                }
                let z = try g.node("nerf_stratified", reads: [limits, randStratified], output: [m, nc]) { seq, b, y in
                    try ops.nerfStratified(seq, limits: b[limits], draws: b[randStratified], z: b[y], rays: m, samples: nc)
                }
                return (rays, z)
            }
            // Raw decoder output [M·s, 1 + hid] (σ, rgb logits) of the s depths at `offset` in each row of z.
            func decode(_ z: GraphValue, samples s: Int, offset: Int) throws -> GraphValue {
                let stride = z.dim(-1)
                let width = fused ? hid + 1 : hid
                let sampled = try g.node(fused ? "nerf_decode" : "nerf_sample_features", reads: [planes, rays, z, w1, b1, w2, b2],
                                         output: [m * s, width]) { seq, b, y in
                    try ops.nerfDecode(seq, planes: b[planes], rays: b[rays], z: b[z], w1: b[w1], b1: b[b1], w2: b[w2], b2: b[b2],
                                       decoded: b[y], rays: m, samples: s, zStride: stride, zOffset: offset, planeSize: p, hid: hid,
                                       depth: depth, hidden: hidden, boxWarp: box, featuresOnly: !fused)
                }
                if fused { return sampled }
                return try g.linear(try g.activation(.softplus, try g.linear(sampled, w1, bias: b1)), w2, bias: b2)
            }
            let coarse = try g.group("coarse") { try decode(zCoarse, samples: nc, offset: 0) }
            // [M, Nc + Nf]: the coarse depths, then the importance depths, each run ascending (the march merges them).
            let zAll = try g.group("importance") {
                try g.node("nerf_importance", reads: [zCoarse, coarse, randImportance], output: [m, nc + nf]) { seq, b, y in
                    try ops.nerfImportance(seq, z: b[zCoarse], decoded: b[coarse], draws: b[randImportance], all: b[y], rays: m,
                                           coarse: nc, fineCount: nf, hid: hid)
                }
            }
            let fine = try g.group("fine") { try decode(zAll, samples: nf, offset: nc) }
            return try g.group("march") {
                // One node, four outputs; the record closure finds them through the box filled once the node exists.
                let produced = ProducedValues()
                produced.values = try g.node("nerf_march", reads: [zAll, coarse, fine],
                                             outputs: [[hid, r, r], [1, r, r], [m], [m, 2]]) { seq, b in
                    let v = produced.values
                    try ops.nerfMarch(seq, z: b[zAll], decodedCoarse: b[coarse],
                                      decodedFine: b[fine], feature: b[v[0]], weights: b[v[1]], depth: b[v[2]], range: b[v[3]],
                                      rays: m, coarse: nc, fineCount: nf, hid: hid)
                }
                let (feature, weights, rawDepth, range) = (produced.values[0], produced.values[1], produced.values[2], produced.values[3])
                let depthImage = try g.node("nerf_depth_clamp", reads: [rawDepth, range], output: [1, r, r]) { seq, b, y in
                    try ops.nerfDepthClamp(seq, depth: b[rawDepth], range: b[range], y: b[y], rays: m)
                }
                return (feature, weights, depthImage)
            }
        }
    }

    /// Uniform draws in [0, 1) of `shape`, drawn on the device from a counter-based hash of the element index, the
    /// 32-bit pattern of `seed` (a [1] value the caller writes per frame, e.g. an input holding
    /// `Float(bitPattern: frameSeed)`) and `stream` (use distinct streams for independent draws under one seed).
    public func uniformRandoms(shape: [Int], seed: GraphValue, stream: UInt32 = 0) throws -> GraphValue {
        guard seed.count == 1, seed.elementType != .float16 else {
            throw GraphError("\(g.name).uniform_random: seed \(seed.shape) \(seed.elementType), expected one 32-bit value")
        }
        let count = shape.reduce(1, *), ops = g.ops
        return try g.node("uniform_random", reads: [seed], output: shape) { seq, b, y in
            try ops.uniformRandom(seq, seed: b[seed], y: b[y], count: count, stream: stream)
        }
    }

    /// `nerf` with its own draws from `seed` (streams 0 and 1 of `uniformRandoms`) instead of injected ones.
    public func nerf(planes: GraphValue, camera: GraphValue, seed: GraphValue) throws
        -> (feature: GraphValue, weights: GraphValue, depth: GraphValue) {
        let stratified = try uniformRandoms(shape: [c.rays, c.samplesCoarse], seed: seed, stream: 0)
        let importance = try uniformRandoms(shape: [c.rays, c.samplesFine], seed: seed, stream: 1)
        return try nerf(planes: planes, camera: camera, randStratified: stratified, randImportance: importance)
    }
}

/// The outputs of a multi-output node, for its record closure (filled right after the node is added).
final class ProducedValues {
    var values: [GraphValue] = []
}

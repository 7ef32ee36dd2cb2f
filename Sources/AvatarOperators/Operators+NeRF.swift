public import AvatarVulkan

/// The tri-plane NeRF's fixed-function kernels (EG3D RaySampler / ImportanceRenderer / MipRayMarcher2 as
/// MimicTalk runs them): rays with their box limits, the two global reductions over rays, stratified and
/// importance depths, the fused plane-sampling + decoder MLP, the final marcher; and counter-based uniform draws.
/// Rays are m = row·R + column; per-ray records are rays [M, 8] (origin, direction, start, end), limits [M, 2].
extension Operators {
    /// camera [25] → rays [M = R², 8] with raw box limits (start −1, end −2 where the ray misses [−h, h]³).
    public func nerfRays(_ seq: CommandSequence, camera: BufferSlice, rays: BufferSlice, resolution r: Int, boxWarp: Float) throws {
        try check(r > 0 && boxWarp > 0, "nerf rays at \(r)² with box \(boxWarp)")
        try check(camera.count >= 25 && rays.count >= r * r * 8, "nerf rays sizes")
        try seq.dispatch(try library.pipeline(Shader.nerfRays), buffers: [camera, rays],
                         push: NeRFRaysPush(r: Self.u(r), halfBox: boxWarp / 2), groups: Self.groups(r * r, local: 64))
    }

    /// rays [M, 8] → limits [M, 2]: invalid rays (not end > start) get the minimum valid start and the maximum
    /// valid start (one workgroup reduces over all rays).
    public func nerfRayLimits(_ seq: CommandSequence, rays: BufferSlice, limits: BufferSlice, count m: Int) throws {
        try check(m > 0 && rays.count >= m * 8 && limits.count >= m * 2, "nerf ray limits sizes")
        try seq.dispatch(try library.pipeline(Shader.nerfRayLimits), buffers: [rays, limits], push: NeRFCountPush(m: Self.u(m)),
                         groups: (1, 1, 1))
    }

    /// Stratified depths z [M, S] = start + k/(S−1)·span + draw·span/(S−1) from limits [M, 2] and draws [M, S].
    public func nerfStratified(_ seq: CommandSequence, limits: BufferSlice, draws: BufferSlice, z: BufferSlice, rays m: Int,
                               samples s: Int) throws {
        try check(m > 0 && s > 1, "nerf stratified sampling of \(m) rays × \(s)")
        try check(limits.count >= m * 2 && draws.count >= m * s && z.count >= m * s, "nerf stratified sizes")
        try seq.dispatch(try library.pipeline(Shader.nerfStratified), buffers: [limits, draws, z],
                         push: NeRFSamplesPush(m: Self.u(m), s: Self.u(s)), groups: Self.groups(m * s, local: 64))
    }

    /// The decoder width the NeRF kernels hold in registers (MimicTalk's 32; Shaders/include/nerf.glsl MAX_HID).
    public static let nerfMaxHid = 32

    /// Tri-plane (depth 1) or trigrid sampling of channels-last planes [3, P, P, hid·depth] (16-byte aligned) at
    /// o + z·d, mean over the planes, then
    /// the OSG decoder (w1 [hidden, hid], w2 [1 + hid, hidden]) → decoded [M·S, 1 + hid] (raw: σ, rgb logits). Ray
    /// m's S depths are z[m·zStride + zOffset ..< + S] (zStride S and offset 0 for a plain [M, S]). `featuresOnly`:
    /// stop after the plane mean, decoded [M·S, hid] (the decoder then runs as generic linears).
    public func nerfDecode(_ seq: CommandSequence, planes: BufferSlice, rays: BufferSlice, z: BufferSlice, w1: BufferSlice,
                           b1: BufferSlice, w2: BufferSlice, b2: BufferSlice, decoded: BufferSlice, rays m: Int, samples s: Int,
                           zStride: Int? = nil, zOffset: Int = 0, planeSize p: Int, hid: Int, depth: Int, hidden: Int,
                           boxWarp: Float, featuresOnly: Bool = false) throws {
        let stride = zStride ?? s
        try check(m > 0 && s > 0 && p > 0 && hid > 0 && depth > 0 && hidden > 0, "nerf decode over an empty shape")
        try check(hid <= Self.nerfMaxHid, "nerf decode: hid \(hid) is above the kernels' \(Self.nerfMaxHid)")
        try check(zOffset >= 0 && zOffset + s <= stride, "nerf decode: depths \(zOffset)..<\(zOffset + s) of rows of \(stride)")
        try check(planes.count >= 3 * hid * depth * p * p && rays.count >= m * 8 && z.count >= m * stride, "nerf decode inputs")
        try check(w1.count >= hidden * hid && b1.count >= hidden && w2.count >= (hid + 1) * hidden && b2.count >= hid + 1,
                  "nerf decoder weights")
        try check(decoded.count >= m * s * (featuresOnly ? hid : hid + 1), "nerf decode output")
        try check(planes.offset % 16 == 0, "nerf decode: planes at byte offset \(planes.offset) (the kernel reads vec4 runs)")
        let pipeline = try library.pipeline(featuresOnly ? Shader.nerfSampleFeatures : Shader.nerfDecode,
                                            specialization: [Self.u(hid), Self.u(depth), Self.u(hidden)])
        try seq.dispatch(pipeline, buffers: [planes, rays, z, w1, b1, w2, b2, decoded],
                         push: NeRFDecodePush(points: Self.u(m * s), s: Self.u(s), p: Self.u(p), zStride: Self.u(stride),
                                              zOffset: Self.u(zOffset), scale: 2 / boxWarp),
                         groups: Self.groups(m * s, local: 64))
    }

    /// Importance sampling from coarse z [M, coarse], their decoded samples (row stride 1 + hid, σ first) and
    /// uniform draws [M, fine] → all depths [M, coarse + fine]: the coarse ones, then the fine ones ascending.
    public func nerfImportance(_ seq: CommandSequence, z: BufferSlice, decoded: BufferSlice, draws: BufferSlice, all: BufferSlice,
                               rays m: Int, coarse: Int, fineCount: Int, hid: Int) throws {
        try check(m > 0 && coarse >= 4 && fineCount > 0 && coarse + fineCount <= 128,
                  "nerf importance sampling of \(m) rays, \(coarse) → \(fineCount) (at most 128 samples in all)")
        try check(z.count >= m * coarse && decoded.count >= m * coarse * (hid + 1) && draws.count >= m * fineCount
                  && all.count >= m * (coarse + fineCount), "nerf importance sizes")
        try seq.dispatch(try library.pipeline(Shader.nerfImportance, specialization: [Self.u(coarse)]),
                         buffers: [z, decoded, draws, all],
                         push: NeRFImportancePush(m: Self.u(m), fine: Self.u(fineCount), stride: Self.u(hid + 1)),
                         groups: Self.groups(m, local: 64))
    }

    /// Final march over the coarse and fine samples merged by depth (z [M, coarse + fine]: each ray's coarse run then
    /// its fine run, both ascending, as nerfImportance writes them) and the raw decoder outputs → feature [hid, M],
    /// weights [M], depth [M] (unclamped; NaN → +inf) and each ray's sample range [M, 2].
    public func nerfMarch(_ seq: CommandSequence, z: BufferSlice, decodedCoarse: BufferSlice,
                          decodedFine: BufferSlice, feature: BufferSlice, weights: BufferSlice, depth: BufferSlice, range: BufferSlice,
                          rays m: Int, coarse: Int, fineCount: Int, hid: Int) throws {
        let n = coarse + fineCount
        try check(m > 0 && coarse > 0 && fineCount > 0 && hid > 0, "nerf march over an empty shape")
        try check(hid <= Self.nerfMaxHid, "nerf march: hid \(hid) is above the kernels' \(Self.nerfMaxHid)")
        try check(z.count >= m * n && decodedCoarse.count >= m * coarse * (hid + 1)
                  && decodedFine.count >= m * fineCount * (hid + 1), "nerf march inputs")
        try check(feature.count >= hid * m && weights.count >= m && depth.count >= m && range.count >= 2 * m, "nerf march outputs")
        let pipeline = try library.pipeline(Shader.nerfMarch, specialization: [Self.u(hid), Self.u(coarse), Self.u(fineCount)])
        try seq.dispatch(pipeline, buffers: [z, decodedCoarse, decodedFine, feature, weights, depth, range],
                         push: NeRFCountPush(m: Self.u(m)), groups: Self.groups(m, local: 64))
    }

    /// depth [M] clamped to the global [min, max] of the rays' sample ranges [M, 2] (one workgroup).
    public func nerfDepthClamp(_ seq: CommandSequence, depth: BufferSlice, range: BufferSlice, y: BufferSlice, rays m: Int) throws {
        try check(m > 0 && depth.count >= m && range.count >= 2 * m && y.count >= m, "nerf depth clamp sizes")
        try seq.dispatch(try library.pipeline(Shader.nerfDepthClamp), buffers: [depth, range, y], push: NeRFCountPush(m: Self.u(m)),
                         groups: (1, 1, 1))
    }

    /// `count` uniform draws in [0, 1) hashed from their index, the 32-bit pattern of seed [1] and `stream`
    /// (distinct streams give independent draws under one seed).
    public func uniformRandom(_ seq: CommandSequence, seed: BufferSlice, y: BufferSlice, count: Int, stream: UInt32 = 0) throws {
        try check(count > 0 && seed.byteCount >= 4 && y.count >= count, "uniform random sizes")
        try seq.dispatch(try library.pipeline(Shader.uniformRandom), buffers: [seed, y],
                         push: UniformRandomPush(count: Self.u(count), stream: stream), groups: Self.groups(count, local: 64))
    }
}

// Push constants of the NeRF kernels, field by field as their shaders declare them (std430, 4-byte scalars).

public struct NeRFRaysPush: PushConstantBlock {
    public var r: UInt32
    public var halfBox: Float
    public static let shaderSize = 8
}

public struct NeRFCountPush: PushConstantBlock {
    public var m: UInt32
    public static let shaderSize = 4
}

public struct NeRFSamplesPush: PushConstantBlock {
    public var m, s: UInt32
    public static let shaderSize = 8
}

public struct NeRFDecodePush: PushConstantBlock {
    public var points, s, p, zStride, zOffset: UInt32
    public var scale: Float
    public static let shaderSize = 24
}

public struct NeRFImportancePush: PushConstantBlock {
    public var m, fine, stride: UInt32
    public static let shaderSize = 12
}

public struct UniformRandomPush: PushConstantBlock {
    public var count, stream: UInt32
    public static let shaderSize = 8
}

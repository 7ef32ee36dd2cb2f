public import AvatarVulkan

extension Operators {
    /// The torso model's hourglass input (torso_motion.comp, MOTION_INPUT): for the K+1 keypoint motions over a
    /// [D, H, W] identity grid, heat map k then the feature `fc` [C, D, H, W] warped by motion k (trilinear,
    /// align_corners, zeros) → y [(K+1)·(1+C), D, H, W]. `kpS`/`kpD` are [68, 3]; `landmarks` picks the K rows.
    public func torsoMotionInput(_ seq: CommandSequence, kpS: BufferSlice, kpD: BufferSlice, fc: BufferSlice, y: BufferSlice,
                                 channels: Int, size: (d: Int, h: Int, w: Int), landmarks: [Int], variance: Float) throws {
        let push = try torsoMotionPush(size: size, landmarks: landmarks, channels: channels, variance: variance, kpS: kpS, kpD: kpD)
        let voxels = size.d * size.h * size.w, k1 = landmarks.count + 1
        try check(fc.count >= channels * voxels && y.count >= k1 * (1 + channels) * voxels, "torso motion input sizes")
        try seq.dispatch(try library.pipeline(Shader.torsoMotionInput), buffers: [kpS, kpD, fc, y], push: push,
                         groups: Self.groups(k1 * voxels, local: 64))
    }

    /// The torso model's deformation (torso_motion.comp, DEFORMATION): softmax over the K+1 mask logits
    /// [K+1, D, H, W] per voxel, Σ motion_k·mask_k, then d·0.1 + d·0.9 → y [D·H·W, 3] (x, y, z).
    public func torsoDeformation(_ seq: CommandSequence, kpS: BufferSlice, kpD: BufferSlice, logits: BufferSlice, y: BufferSlice,
                                 size: (d: Int, h: Int, w: Int), landmarks: [Int]) throws {
        let push = try torsoMotionPush(size: size, landmarks: landmarks, channels: 0, variance: 1, kpS: kpS, kpD: kpD)
        let voxels = size.d * size.h * size.w
        try check(logits.count >= (landmarks.count + 1) * voxels && y.count >= 3 * voxels, "torso deformation sizes")
        try seq.dispatch(try library.pipeline(Shader.torsoDeformation), buffers: [kpS, kpD, logits, y], push: push,
                         groups: Self.groups(voxels, local: 64))
    }

    private func torsoMotionPush(size: (d: Int, h: Int, w: Int), landmarks: [Int], channels: Int, variance: Float,
                                 kpS: BufferSlice, kpD: BufferSlice) throws -> TorsoMotionPush {
        try check(size.d > 1 && size.h > 1 && size.w > 1, "torso motion grid \(size) needs ≥ 2 samples per axis")
        try check((1...9).contains(landmarks.count) && landmarks.allSatisfy { (0..<68).contains($0) }, "torso landmarks \(landmarks)")
        try check(kpS.count >= 68 * 3 && kpD.count >= 68 * 3, "torso keypoints must be [68, 3]")
        let idx = (landmarks + Array(repeating: 0, count: 9 - landmarks.count)).map(Self.u)
        return TorsoMotionPush(d: Self.u(size.d), h: Self.u(size.h), w: Self.u(size.w), k: Self.u(landmarks.count), c: Self.u(channels),
                               variance: variance, idx0: idx[0], idx1: idx[1], idx2: idx[2], idx3: idx[3], idx4: idx[4],
                               idx5: idx[5], idx6: idx[6], idx7: idx[7], idx8: idx[8])
    }
}

/// Push constants of torso_motion.comp (std430, 4-byte scalars).
public struct TorsoMotionPush: PushConstantBlock {
    public var d, h, w, k, c: UInt32
    public var variance: Float
    public var idx0, idx1, idx2, idx3, idx4, idx5, idx6, idx7, idx8: UInt32
    public static let shaderSize = 60
}

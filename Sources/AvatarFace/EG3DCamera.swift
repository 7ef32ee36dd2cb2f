/// The EG3D camera of a head pose (docs/avatars.md §4.3; upstream `convert_to_eg3d_convention.py`, the `c2w`
/// inference uses): R = (Rz·Ry·Rx)ᵀ, centre c = −R·(trans − [0, 0, 10])·0.27 + [0, 0.006, 0.161],
/// c2w = [[R·diag(1, −1, −1), c], [0, 0, 0, 1]]; K = [[2985.29/700, 0, ½], [0, 2985.29/700, ½], [0, 0, 1]].
/// The vector is the 16 values of c2w (row-major) then the 9 of K. Double inside, Float out.
public enum EG3DCamera {
    public static let focal = 2985.29 / 700
    static let scale = 0.27
    static let offset: [Double] = [0, 0.006, 0.161]
    static let distance = 10.0
    static let intrinsics: [Double] = [focal, 0, 0.5, 0, focal, 0.5, 0, 0, 1]

    /// The 25-value camera of one pose.
    public static func vector(pose: HeadPose) -> [Float] { c2w(pose: pose).map(Float.init) + intrinsics.map(Float.init) }

    /// c2w [16], row-major, Double.
    static func c2w(pose: HeadPose) -> [Double] {
        let r = pose.rotation
        let t = [pose.trans.x, pose.trans.y, pose.trans.z - distance]
        var m = [Double](repeating: 0, count: 16)
        for i in 0..<3 {
            let rt = r[3 * i] * t[0] + r[3 * i + 1] * t[1] + r[3 * i + 2] * t[2]
            m[4 * i] = r[3 * i]
            m[4 * i + 1] = -r[3 * i + 1]
            m[4 * i + 2] = -r[3 * i + 2]
            m[4 * i + 3] = -rt * scale + offset[i]
        }
        m[15] = 1
        return m
    }

    /// Upstream `smooth_camera_sequence` for one frame: over the c2w matrices of its (already clipped) window,
    /// the mean centre and the chordal L2 mean rotation; the bottom row and K are untouched.
    static func smoothed(_ window: [[Double]]) -> [Float] {
        var out = [Double](repeating: 0, count: 16)
        for i in 0..<3 {
            out[4 * i + 3] = window.map { $0[4 * i + 3] }.reduce(0, +) / Double(window.count)
        }
        let mean = RotationMean.mean(window.map { m in [m[0], m[1], m[2], m[4], m[5], m[6], m[8], m[9], m[10]] })
        for i in 0..<3 { for j in 0..<3 { out[4 * i + j] = mean[3 * i + j] } }
        out[15] = 1
        return out.map(Float.init) + intrinsics.map(Float.init)
    }
}

/// The 68 torso keypoints of a frame (docs/avatars.md §4.2, upstream `Face3DHelper.reconstruct_lm2d` and
/// `get_driving_motion`): the `lm68_torso_vertices` (as stored, with upstream's off-by-one) of
/// mean + id + exp, rotated as row vectors by (Rz·Ry·Rx)ᵀ, translated, z' = 10 − z, projected at 224 px with
/// focal 1015, y flipped, mapped to [−1, 1] and clamped: x right, y down. Float64 on the CPU.
public struct TorsoKeypoints: Sendable {
    public static let count = 68
    static let focal224 = 1015.0, centre224 = 112.0, distance = 10.0

    /// The identity-applied keypoint vertices [68, 3] and their expression rows [68·3, expCount].
    private let base: [Double]
    private let expRows: [Double]
    public let expCount: Int

    public init(face: BFMFaceModel, identity: [Float]) throws {
        try face.checkCoefficients(id: identity, exp: [])
        expCount = face.expCount
        var base = [Double](), rows = [Double]()
        for v in face.lm68TorsoVertices {
            for c in 0..<3 {
                let r = 3 * v + c
                base.append(face.coordinate(r, id: identity, exp: []))
                rows += face.expBasis[(r * expCount)..<((r + 1) * expCount)].map(Double.init)
            }
        }
        self.base = base
        expRows = rows
    }

    /// [68 × 2] (x, y per keypoint) in [−1, 1] for one frame's expression (`expCount` values) and pose.
    public func keypoints(exp: [Float], pose: HeadPose) throws -> [Float] {
        guard exp.count == expCount, exp.allSatisfy(\.isFinite) else {
            throw FaceModelError("torso keypoints need \(expCount) finite expression coefficients, got \(exp.count)")
        }
        let r = pose.rotation
        let e = exp.map(Double.init)
        var out = [Float]()
        out.reserveCapacity(2 * Self.count)
        for k in 0..<Self.count {
            var p = [Double](repeating: 0, count: 3)
            for c in 0..<3 {
                let row = 3 * k + c
                var acc = 0.0
                for j in 0..<expCount { acc += expRows[row * expCount + j] * e[j] }
                p[c] = base[row] + acc
            }
            var lm = [Double](repeating: 0, count: 3)
            for c in 0..<3 { lm[c] = p[0] * r[c] + p[1] * r[3 + c] + p[2] * r[6 + c] + pose.trans[c] }
            let z = Self.distance - lm[2]
            let u = (Self.focal224 * lm[0] / z + Self.centre224) / 224
            let v = (224 - (Self.focal224 * lm[1] / z + Self.centre224)) / 224
            out.append(Float(min(max((u - 0.5) / 0.5, -1), 1)))
            out.append(Float(min(max((v - 0.5) / 0.5, -1), 1)))
        }
        return out
    }
}

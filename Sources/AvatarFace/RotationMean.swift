import Foundation

/// The chordal L2 mean of rotations (scipy `Rotation.mean`, upstream `smooth_camera_sequence`): the principal
/// eigenvector of Σ q qᵀ over their unit quaternions (sign-free), back to a matrix. Row-major 3×3, Double.
enum RotationMean {
    static func mean(_ rotations: [[Double]]) -> [Double] {
        var m = [Double](repeating: 0, count: 16)
        for r in rotations {
            let q = quaternion(r)
            for i in 0..<4 { for j in 0..<4 { m[4 * i + j] += q[i] * q[j] } }
        }
        return matrix(SymmetricEigen(m, n: 4).principal)
    }

    /// Unit quaternion (w, x, y, z) of a rotation matrix, branch by the largest of trace and diagonal (Shepperd).
    static func quaternion(_ r: [Double]) -> [Double] {
        let tr = r[0] + r[4] + r[8]
        let d = [tr, r[0], r[4], r[8]]
        let k = d.indices.max { d[$0] < d[$1] } ?? 0
        var q: [Double]
        switch k {
        case 0:
            let s = 2 * (1 + tr).squareRoot()
            q = [s / 4, (r[7] - r[5]) / s, (r[2] - r[6]) / s, (r[3] - r[1]) / s]
        case 1:
            let s = 2 * (1 + r[0] - r[4] - r[8]).squareRoot()
            q = [(r[7] - r[5]) / s, s / 4, (r[1] + r[3]) / s, (r[2] + r[6]) / s]
        case 2:
            let s = 2 * (1 + r[4] - r[0] - r[8]).squareRoot()
            q = [(r[2] - r[6]) / s, (r[1] + r[3]) / s, s / 4, (r[5] + r[7]) / s]
        default:
            let s = 2 * (1 + r[8] - r[0] - r[4]).squareRoot()
            q = [(r[3] - r[1]) / s, (r[2] + r[6]) / s, (r[5] + r[7]) / s, s / 4]
        }
        let norm = (q.map { $0 * $0 }.reduce(0, +)).squareRoot()
        return q.map { $0 / norm }
    }

    /// Rotation matrix of a quaternion (w, x, y, z), normalised first.
    static func matrix(_ quaternion: [Double]) -> [Double] {
        let norm = (quaternion.map { $0 * $0 }.reduce(0, +)).squareRoot()
        let (w, x, y, z) = (quaternion[0] / norm, quaternion[1] / norm, quaternion[2] / norm, quaternion[3] / norm)
        return [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]
    }
}

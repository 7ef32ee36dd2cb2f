import Foundation

/// A head pose of the face model (docs/avatars.md §4.2, §4.3): euler angles (x, y, z) in radians and a
/// translation in decimetres. Kept in Double: the references compute rotations and cameras in float64.
public struct HeadPose: Sendable, Equatable {
    public var euler: SIMD3<Double>
    public var trans: SIMD3<Double>

    public init(euler: SIMD3<Double> = .zero, trans: SIMD3<Double> = .zero) {
        self.euler = euler
        self.trans = trans
    }

    /// From 3 + 3 values (a pose-track row or a checkpoint's reference pose).
    public init(euler: [Float], trans: [Float]) throws {
        guard euler.count == 3, trans.count == 3 else {
            throw FaceModelError("a head pose needs 3 euler angles and 3 translations, got \(euler.count) and \(trans.count)")
        }
        guard (euler + trans).allSatisfy(\.isFinite) else { throw FaceModelError("head pose \(euler) \(trans) is not finite") }
        self.init(euler: SIMD3(Double(euler[0]), Double(euler[1]), Double(euler[2])),
                  trans: SIMD3(Double(trans[0]), Double(trans[1]), Double(trans[2])))
    }

    /// R = (Rz·Ry·Rx)ᵀ, row-major [9] (upstream `compute_rotation`). Landmarks rotate as row vectors, v·R + t;
    /// the EG3D camera uses R as a matrix acting on column vectors.
    public var rotation: [Double] {
        let (cx, sx) = (cos(euler.x), sin(euler.x))
        let (cy, sy) = (cos(euler.y), sin(euler.y))
        let (cz, sz) = (cos(euler.z), sin(euler.z))
        let rx: [Double] = [1, 0, 0, 0, cx, -sx, 0, sx, cx]
        let ry: [Double] = [cy, 0, sy, 0, 1, 0, -sy, 0, cy]
        let rz: [Double] = [cz, -sz, 0, sz, cz, 0, 0, 0, 1]
        let m = Self.product(Self.product(rz, ry), rx)
        return [m[0], m[3], m[6], m[1], m[4], m[7], m[2], m[5], m[8]]
    }

    /// 3×3 row-major product a·b.
    static func product(_ a: [Double], _ b: [Double]) -> [Double] {
        (0..<9).map { i in
            let (r, c) = (i / 3, i % 3)
            return a[3 * r] * b[c] + a[3 * r + 1] * b[3 + c] + a[3 * r + 2] * b[6 + c]
        }
    }
}

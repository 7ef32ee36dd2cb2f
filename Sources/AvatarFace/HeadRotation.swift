import Foundation

/// A head rotation of the face model's pose rig (docs/demo-avatar.md §1, §5), driven by the motion dimensions
/// `head_pitch`, `head_yaw`, `head_roll` in units of 10°. Model axes: +x the subject's left, +y up, +z towards the
/// camera. R = R_yaw · R_pitch · R_roll, each right-handed: pitch about +x (positive moves the nose down: a nod),
/// yaw about +y (positive turns the nose towards +x), roll about +z (positive tilts the top of the head towards −x).
/// tools/demo/raster_ref.py `head_rotation` / `pose_vertices` is the float64 reference.
public struct HeadRotation: Sendable, Equatable {
    /// Radians.
    public var pitch: Double
    public var yaw: Double
    public var roll: Double

    /// The motion dimension names, in the order of `init(motionUnits:)`.
    public static let motionNames = ["head_pitch", "head_yaw", "head_roll"]
    public static let degreesPerMotionUnit = 10.0
    public static let identity = HeadRotation(pitch: 0, yaw: 0, roll: 0)

    public init(pitch: Double, yaw: Double, roll: Double) {
        self.pitch = pitch
        self.yaw = yaw
        self.roll = roll
    }

    /// From motion values (1 = 10°): pitch, yaw, roll.
    public init(motionUnits pitch: Float, yaw: Float, roll: Float) {
        let k = Self.degreesPerMotionUnit * Double.pi / 180
        self.init(pitch: Double(pitch) * k, yaw: Double(yaw) * k, roll: Double(roll) * k)
    }

    /// R = R_yaw · R_pitch · R_roll, row-major.
    public var matrix: [Double] {
        let (cp, sp) = (cos(pitch), sin(pitch)), (cy, sy) = (cos(yaw), sin(yaw)), (cr, sr) = (cos(roll), sin(roll))
        let rx: [Double] = [1, 0, 0, 0, cp, -sp, 0, sp, cp]
        let ry: [Double] = [cy, 0, sy, 0, 1, 0, -sy, 0, cy]
        let rz: [Double] = [cr, -sr, 0, sr, cr, 0, 0, 0, 1]
        return Self.product(ry, Self.product(rx, rz))
    }

    /// The 12 values the pose pass reads: R row-major, then the pivot.
    public func passValues(pivot: [Float]) -> [Float] {
        matrix.map { Float($0) } + pivot.prefix(3)
    }

    /// Posed vertices on the host in float64 (the reference math): v + w·(R(v − p) − (v − p)).
    public func apply(to vertices: [Float], weights: [Float], pivot: [Float]) -> [Float] {
        let r = matrix
        var out = vertices
        for i in 0..<min(vertices.count / 3, weights.count) where weights[i] != 0 {
            let d = (0..<3).map { Double(vertices[3 * i + $0]) - Double(pivot[$0]) }
            for c in 0..<3 {
                let rotated = r[3 * c] * d[0] + r[3 * c + 1] * d[1] + r[3 * c + 2] * d[2]
                out[3 * i + c] = Float(Double(vertices[3 * i + c]) + Double(weights[i]) * (rotated - d[c]))
            }
        }
        return out
    }

    /// Row-major 3×3 product a · b.
    public static func product(_ a: [Double], _ b: [Double]) -> [Double] {
        (0..<9).map { k in
            let (i, j) = (k / 3, k % 3)
            return a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j]
        }
    }
}

public import AvatarFormats
import Foundation

/// A face model in the BFM front model's structure (docs/demo-avatar.md §1): mean shape, identity and
/// expression bases in BFM layout ([3N, K], row 3i + c = coordinate c of vertex i), triangles, normalised
/// canonical coordinates, excluded (eye) faces, and the materials of the shaded preview.
public struct FaceModel: Sendable {
    public let vertexCount: Int
    public let meanShape: [Float]
    public let idBasis: [Float]
    public let idCount: Int
    public let expBasis: [Float]
    public let expNames: [String]
    public let triangles: [UInt32]
    public let ncc: [Float]
    public let eyeFaces: [Int]
    public let vertexRegion: [Int]
    public let regionColors: [Float]
    public let regionSpecular: [Float]
    public let vertexColor: [Float]
    /// The head pose rig (`pose_pivot` [3], `pose_weight` [N]), nil when the file has none: such a model renders
    /// only the canonical pose and refuses head_* motion (`FaceRenderPass`).
    public let posePivot: [Float]?
    public let poseWeight: [Float]?
    public var hasPoseRig: Bool { posePivot != nil }
    public var triangleCount: Int { triangles.count / 3 }
    public var expCount: Int { expNames.count }

    /// Reads and validates every tensor (names the tensor and what was expected on any problem).
    public init(file: SafeTensorsFile) throws {
        let name = file.url.lastPathComponent
        func view(_ t: String, rank: Int) throws -> TensorView {
            guard file.tensors[t] != nil else { throw FaceModelError("\(name): tensor '\(t)' is missing") }
            let v = try file.tensor(t)
            guard v.shape.count == rank else { throw FaceModelError("\(name): tensor '\(t)' has shape \(v.shape), expected rank \(rank)") }
            return v
        }
        let mean = try view("mean_shape", rank: 2)
        guard mean.shape[1] == 3, mean.shape[0] >= 3 else { throw FaceModelError("\(name): mean_shape is \(mean.shape), expected [N, 3]") }
        let n = mean.shape[0]
        vertexCount = n
        meanShape = mean.floats()
        let exp = try view("exp_basis", rank: 2)
        guard exp.shape[0] == 3 * n else { throw FaceModelError("\(name): exp_basis is \(exp.shape), expected [\(3 * n), K]") }
        expBasis = exp.floats()
        let id = try view("id_basis", rank: 2)
        guard id.shape[0] == 3 * n else { throw FaceModelError("\(name): id_basis is \(id.shape), expected [\(3 * n), K]") }
        idBasis = id.floats()
        idCount = id.shape[1]
        let names = file.metadata["exp_names"]?.split(separator: ",").map(String.init) ?? []
        guard names.count == exp.shape[1] else {
            throw FaceModelError("\(name): metadata exp_names lists \(names.count) names, exp_basis has \(exp.shape[1]) columns")
        }
        expNames = names
        let tri = try view("triangles", rank: 2)
        guard tri.shape[1] == 3, tri.shape[0] > 0 else { throw FaceModelError("\(name): triangles is \(tri.shape), expected [F, 3]") }
        let indices = tri.ints()
        guard indices.allSatisfy({ $0 >= 0 && $0 < n }) else { throw FaceModelError("\(name): triangles index outside 0..<\(n)") }
        triangles = indices.map { UInt32($0) }
        let c = try view("ncc", rank: 2)
        guard c.shape == [n, 3] else { throw FaceModelError("\(name): ncc is \(c.shape), expected [\(n), 3]") }
        ncc = c.floats()
        eyeFaces = try file.tensors["eye_faces"] == nil ? [] : view("eye_faces", rank: 1).ints()
        guard eyeFaces.allSatisfy({ $0 >= 0 && $0 < tri.shape[0] }) else { throw FaceModelError("\(name): eye_faces index outside the triangles") }
        let regions = try view("region_colors", rank: 2)
        guard regions.shape[1] == 3 else { throw FaceModelError("\(name): region_colors is \(regions.shape), expected [R, 3]") }
        regionColors = regions.floats()
        regionSpecular = try view("region_specular", rank: 1).floats()
        guard regionSpecular.count == regions.shape[0] else { throw FaceModelError("\(name): region_specular has \(regionSpecular.count) entries, expected \(regions.shape[0])") }
        vertexRegion = try view("vertex_region", rank: 1).ints()
        guard vertexRegion.count == n, vertexRegion.allSatisfy({ $0 >= 0 && $0 < regions.shape[0] }) else {
            throw FaceModelError("\(name): vertex_region must hold \(n) region ids below \(regions.shape[0])")
        }
        if file.tensors["vertex_color"] != nil {
            let vc = try view("vertex_color", rank: 2)
            guard vc.shape == [n, 3] else { throw FaceModelError("\(name): vertex_color is \(vc.shape), expected [\(n), 3]") }
            vertexColor = vc.floats()
        } else {
            vertexColor = vertexRegion.flatMap { Array(regions.floats()[(3 * $0)..<(3 * $0 + 3)]) }
        }
        switch (file.tensors["pose_pivot"] != nil, file.tensors["pose_weight"] != nil) {
        case (true, true):
            let pivot = try view("pose_pivot", rank: 1).floats()
            guard pivot.count == 3, pivot.allSatisfy(\.isFinite) else { throw FaceModelError("\(name): pose_pivot must hold 3 finite values") }
            let weight = try view("pose_weight", rank: 1).floats()
            guard weight.count == n, weight.allSatisfy({ $0 >= 0 && $0 <= 1 }) else {
                throw FaceModelError("\(name): pose_weight must hold \(n) weights in [0, 1], has \(weight.count)")
            }
            posePivot = pivot
            poseWeight = weight
        case (false, false):
            posePivot = nil
            poseWeight = nil
        case (let hasPivot, _):
            throw FaceModelError("\(name): tensor '\(hasPivot ? "pose_weight" : "pose_pivot")' is missing (the pose rig needs both)")
        }
        for (t, values) in [("mean_shape", meanShape), ("exp_basis", expBasis), ("id_basis", idBasis), ("ncc", ncc)] where !values.allSatisfy(\.isFinite) {
            throw FaceModelError("\(name): tensor '\(t)' contains NaN or Inf")
        }
    }

    public init(url: URL) throws { try self.init(file: try SafeTensorsFile(url: url)) }

    /// Vertices [N, 3] of the identity `id` and expression `exp` (either may be shorter: missing = 0).
    public func vertices(id: [Float] = [], exp: [Float] = []) -> [Float] {
        var v = meanShape
        let e = expCount
        for r in 0..<(3 * vertexCount) {
            var acc = Double(v[r])
            for (k, c) in id.prefix(idCount).enumerated() where c != 0 { acc += Double(idBasis[r * idCount + k]) * Double(c) }
            for (k, c) in exp.prefix(e).enumerated() where c != 0 { acc += Double(expBasis[r * e + k]) * Double(c) }
            v[r] = Float(acc)
        }
        return v
    }
}

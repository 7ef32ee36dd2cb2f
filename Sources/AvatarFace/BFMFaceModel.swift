public import AvatarFormats
import Foundation

/// The MimicTalk face model (`face_model.safetensors`, kind `bfm09_front`, docs/avatars.md §2): mean shape,
/// identity and expression bases in BFM layout ([3N, K], row 3i + c = coordinate c of vertex i), all triangles,
/// the eye faces and the triangles SECC rasterises without them, normalised canonical coordinates, the lm68
/// landmark vertices (0-based) and the torso-keypoint vertices as upstream indexes them (off by one, §4.2).
public struct BFMFaceModel: Sendable {
    public static let kind = "bfm09_front"

    public let vertexCount: Int
    /// [N, 3], decimetres.
    public let meanShape: [Float]
    /// [3N, idCount].
    public let idBasis: [Float]
    public let idCount: Int
    /// [3N, expCount].
    public let expBasis: [Float]
    public let expCount: Int
    /// [F, 3], all BFM triangles.
    public let triangles: [UInt32]
    /// Sorted indices into `triangles` of the eye faces.
    public let eyeFaces: [Int]
    /// [F − E, 3]: `triangles` without the eye faces, order kept.
    public let seccTriangles: [UInt32]
    /// [N, 3] in [0, 1].
    public let ncc: [Float]
    /// 68 landmark vertices, 0-based.
    public let keypoints: [Int]
    /// 68 vertices the torso keypoints use (the `.mat` values unchanged).
    public let lm68TorsoVertices: [Int]
    public let expNames: [String]

    public var triangleCount: Int { triangles.count / 3 }
    public var seccTriangleCount: Int { seccTriangles.count / 3 }

    /// Reads and validates every tensor; errors name the file, the tensor and what was expected.
    public init(file: SafeTensorsFile) throws {
        let name = file.url.lastPathComponent
        func fail(_ message: String) -> FaceModelError { FaceModelError("\(name): \(message)") }
        func view(_ t: String, _ expected: [Int?]) throws -> TensorView {
            guard file.tensors[t] != nil else { throw fail("tensor '\(t)' is missing") }
            let v = try file.tensor(t)
            let fits = v.shape.count == expected.count && zip(v.shape, expected).allSatisfy { $1 == nil || $0 == $1 }
            guard fits, v.shape.allSatisfy({ $0 > 0 }) else {
                let want = expected.map { $0.map(String.init) ?? "_" }.joined(separator: ", ")
                throw fail("tensor '\(t)' has shape \(v.shape), expected [\(want)]")
            }
            return v
        }
        func indices(_ t: String, _ v: TensorView, below bound: Int, what: String) throws -> [Int] {
            guard v.dtype == .i32 || v.dtype == .i64 else { throw fail("tensor '\(t)' is \(v.dtype.rawValue), expected I32 indices") }
            let values = v.ints()
            if let (i, bad) = values.enumerated().first(where: { $0.element < 0 || $0.element >= bound }) {
                throw fail("tensor '\(t)' entry \(i) is \(bad), outside the \(bound) \(what)")
            }
            return values
        }
        if let kind = file.metadata["kind"], kind != Self.kind {
            throw fail("metadata kind is '\(kind)', expected '\(Self.kind)'")
        }
        let mean = try view("mean_shape", [nil, 3])
        let n = mean.shape[0]
        vertexCount = n
        meanShape = mean.floats()
        let id = try view("id_basis", [3 * n, nil])
        idBasis = id.floats()
        idCount = id.shape[1]
        let exp = try view("exp_basis", [3 * n, nil])
        expBasis = exp.floats()
        expCount = exp.shape[1]
        let names = file.metadata["exp_names"]?.split(separator: ",").map(String.init) ?? []
        guard names.isEmpty || names.count == expCount else {
            throw fail("metadata exp_names lists \(names.count) names, exp_basis has \(expCount) columns")
        }
        expNames = names
        ncc = try view("ncc", [n, 3]).floats()
        let allTriangles = try indices("triangles", try view("triangles", [nil, 3]), below: n, what: "vertices")
        triangles = allTriangles.map(UInt32.init)
        let f = allTriangles.count / 3
        eyeFaces = try indices("eye_faces", try view("eye_faces", [nil]), below: f, what: "triangles")
        guard zip(eyeFaces, eyeFaces.dropFirst()).allSatisfy({ $0 < $1 }) else { throw fail("eye_faces must be sorted and distinct") }
        let secc = try indices("secc_triangles", try view("secc_triangles", [nil, 3]), below: n, what: "vertices")
        // secc_triangles is derived data: check it is what the conversion promises (triangles minus eye faces).
        let eyes = Set(eyeFaces)
        let kept = (0..<f).filter { !eyes.contains($0) }.flatMap { allTriangles[(3 * $0)..<(3 * $0 + 3)] }
        guard secc == kept else {
            throw fail("secc_triangles (\(secc.count / 3) faces) is not triangles without eye_faces (\(kept.count / 3) faces)")
        }
        seccTriangles = secc.map(UInt32.init)
        keypoints = try indices("keypoints", try view("keypoints", [68]), below: n, what: "vertices")
        lm68TorsoVertices = try indices("lm68_torso_vertices", try view("lm68_torso_vertices", [68]), below: n, what: "vertices")
        for (t, values) in [("mean_shape", meanShape), ("id_basis", idBasis), ("exp_basis", expBasis), ("ncc", ncc)]
        where !values.allSatisfy(\.isFinite) {
            throw fail("tensor '\(t)' contains NaN or Inf")
        }
    }

    public init(url: URL) throws { try self.init(file: try SafeTensorsFile(url: url)) }

    /// Vertices [N, 3] = mean + id_basis·id + exp_basis·exp, accumulated in Double. `id` holds `idCount`
    /// values and `exp` `expCount`, or either is empty (zero).
    public func vertices(id: [Float] = [], exp: [Float] = []) throws -> [Float] {
        try checkCoefficients(id: id, exp: exp)
        return (0..<(3 * vertexCount)).map { Float(coordinate($0, id: id, exp: exp)) }
    }

    /// Coordinate `row` (3i + c) of the vertices, in Double.
    func coordinate(_ row: Int, id: [Float], exp: [Float]) -> Double {
        var acc = Double(meanShape[row])
        for (k, c) in id.enumerated() where c != 0 { acc += Double(idBasis[row * idCount + k]) * Double(c) }
        for (k, c) in exp.enumerated() where c != 0 { acc += Double(expBasis[row * expCount + k]) * Double(c) }
        return acc
    }

    func checkCoefficients(id: [Float], exp: [Float]) throws {
        guard id.isEmpty || id.count == idCount else { throw FaceModelError("identity has \(id.count) coefficients, the face model \(idCount)") }
        guard exp.isEmpty || exp.count == expCount else { throw FaceModelError("expression has \(exp.count) coefficients, the face model \(expCount)") }
        guard id.allSatisfy(\.isFinite), exp.allSatisfy(\.isFinite) else { throw FaceModelError("identity or expression coefficients contain NaN or Inf") }
    }
}

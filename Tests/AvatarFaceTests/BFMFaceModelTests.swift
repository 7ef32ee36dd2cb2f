import AvatarFace
import AvatarFormats
import Foundation
import Testing

/// The bfm09_front face model (docs/avatars.md §2): the fixture's counts, V = mean + id·B_id + exp·B_exp, and
/// refusals that name the tensor.
@Suite struct BFMFaceModelTests {
    @Test func readsTheFixture() throws {
        let face = try FaceFixtures.face()
        #expect(face.vertexCount == 63 && face.triangleCount == 96 && face.eyeFaces.count == 5)
        #expect(face.seccTriangleCount == 91 && face.idCount == 80 && face.expCount == 64)
        #expect(face.lm68TorsoVertices.count == 68 && face.keypoints.count == 68 && face.expNames.count == 64)
        let file = try FaceFixtures.file("face_tiny")
        #expect(face.lm68TorsoVertices == (try file.tensor("lm68_torso_vertices").ints()), "used as stored (no −1)")
    }

    @Test func verticesAreMeanPlusBases() throws {
        let face = try FaceFixtures.face()
        var id = [Float](repeating: 0, count: face.idCount), exp = [Float](repeating: 0, count: face.expCount)
        id[3] = 0.5
        exp[7] = -2
        let v = try face.vertices(id: id, exp: exp)
        #expect(try face.vertices() == face.meanShape)
        for r in [0, 1, 100, 3 * face.vertexCount - 1] {
            let want = Double(face.meanShape[r]) + 0.5 * Double(face.idBasis[r * 80 + 3]) - 2 * Double(face.expBasis[r * 64 + 7])
            #expect(abs(Double(v[r]) - want) < 1e-6)
        }
        #expect(throws: FaceModelError.self) { try face.vertices(exp: [1, 2]) }
    }

    /// The fixture's tensors with one changed or removed.
    func variant(_ change: (inout [String: (shape: [Int], floats: [Float]?, ints: [Int32]?)]) -> Void) throws -> URL {
        let file = try FaceFixtures.file("face_tiny")
        var tensors: [String: (shape: [Int], floats: [Float]?, ints: [Int32]?)] = [:]
        for name in file.names {
            let t = try file.tensor(name)
            tensors[name] = t.dtype == .i32 ? (t.shape, nil, t.ints().map { Int32($0) }) : (t.shape, t.floats(), nil)
        }
        change(&tensors)
        var writer = SafeTensorsWriter()
        writer.metadata = file.metadata
        for (name, t) in tensors {
            if let f = t.floats { writer.add(name, shape: t.shape, floats: f) } else { writer.add(name, shape: t.shape, int32s: t.ints!) }
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bfm-\(UUID()).safetensors")
        try writer.write(to: url)
        return url
    }

    func refusal(_ change: (inout [String: (shape: [Int], floats: [Float]?, ints: [Int32]?)]) -> Void) throws -> String {
        let url = try variant(change)
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            _ = try BFMFaceModel(url: url)
        } catch let error as FaceModelError {
            return error.message
        }
        return "accepted"
    }

    @Test func refusesBadFilesNamingTheTensor() throws {
        let missing = try refusal { $0["ncc"] = nil }
        #expect(missing.contains("'ncc' is missing"), "\(missing)")
        let shape = try refusal { $0["exp_basis"] = ([188, 64], [Float](repeating: 0, count: 188 * 64), nil) }
        #expect(shape.contains("'exp_basis' has shape [188, 64], expected [189, _]"), "\(shape)")
        let range = try refusal { $0["lm68_torso_vertices"]!.ints![5] = 63 }
        #expect(range.contains("lm68_torso_vertices") && range.contains("entry 5 is 63"), "\(range)")
        let tri = try refusal { $0["secc_triangles"]!.ints![0] = -1 }
        #expect(tri.contains("secc_triangles") && tri.contains("-1"), "\(tri)")
        let derived = try refusal { $0["eye_faces"] = ([4], nil, $0["eye_faces"]!.ints!.dropLast().map { $0 }) }
        #expect(derived.contains("secc_triangles") && derived.contains("without eye_faces"), "\(derived)")
        let nan = try refusal { $0["mean_shape"]!.floats![4] = .nan }
        #expect(nan.contains("mean_shape") && nan.contains("NaN"), "\(nan)")
    }
}

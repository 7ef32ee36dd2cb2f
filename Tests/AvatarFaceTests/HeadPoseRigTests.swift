import AvatarFace
import AvatarFormats
import AvatarMedia
import AvatarOperators
import AvatarStages
import AvatarVulkan
import Foundation
import Testing

/// The head pose pass (Shaders/raster_pose.comp) against tools/demo/raster_ref.py `pose_vertices` (float64):
/// posed vertices of face_tiny agree within 2e-5 (float32 rotation of coordinates ≈ 1; measured max |Δ| printed),
/// the SECC maps of the posed vertices with the rasterizer's budget (≤ 0.5 % of pixels off by more than 1e-4).
@Suite(.serialized) struct HeadPoseRigTests {
    static let fixtures = RasterizerTests.fixtures
    static let shared = RasterizerTests.shared

    static func golden() throws -> SafeTensorsFile {
        try SafeTensorsFile(url: fixtures.appendingPathComponent("pose_golden.safetensors"))
    }

    static func rotation(_ angles: [Float]) -> HeadRotation {
        HeadRotation(motionUnits: angles[0], yaw: angles[1], roll: angles[2])
    }

    @Test func posedVerticesMatchTheReference() throws {
        let renderer = try Self.shared.get()
        let face = renderer.face
        #expect(face.hasPoseRig)
        let golden = try Self.golden()
        for k in 0..<2 {
            let exp = try golden.tensor("pose\(k)_exp").floats(), angles = try golden.tensor("pose\(k)_angles").floats()
            let want = try golden.tensor("pose\(k)_vertices").floats()
            let got = try renderer.posedVertices(exp: exp, rotation: Self.rotation(angles))
            let host = Self.rotation(angles).apply(to: face.vertices(exp: exp), weights: face.poseWeight!, pivot: face.posePivot!)
            let device = zip(got, want).map { abs($0 - $1) }, onHost = zip(host, want).map { abs($0 - $1) }
            let moved = zip(want, face.vertices(exp: exp)).map { abs($0 - $1) }.max() ?? 0
            print("pose\(k) \(angles): device max |Δ| \(device.max()!), mean \(device.reduce(0, +) / Float(device.count)); "
                  + "host max |Δ| \(onHost.max()!); largest displacement \(moved)")
            #expect(got.count == want.count)
            #expect(device.max()! <= 2e-5)
            #expect(onHost.max()! <= 2e-5)
            #expect(moved > 0.05, "the case turns the head")

            let secc = try renderer.seccMap(vertices: got, width: 64, height: 64)
            let wantSECC = try golden.tensor("pose\(k)_secc64").floats()
            let bad = zip(secc, wantSECC).filter { abs($0 - $1) > 1e-4 }.count / 3
            print("pose\(k) SECC 64²: \(bad) pixels off by more than 1e-4")
            #expect(Double(bad) <= 0.005 * 64 * 64)
        }
    }

    @Test func convention() throws {
        // Pitch about +x moves +z (the nose) down; yaw about +y moves it to +x; roll about +z moves +y (the top) to -x.
        let r = HeadRotation(motionUnits: 1, yaw: 0, roll: 0).matrix
        #expect(r[5] < -0.17 && r[5] > -0.18)  // row y, column z: -sin 10°
        let y = HeadRotation(motionUnits: 0, yaw: 1, roll: 0).matrix
        #expect(y[2] > 0.17)  // row x, column z: +sin 10°
        let z = HeadRotation(motionUnits: 0, yaw: 0, roll: 1).matrix
        #expect(z[1] < -0.17)  // row x, column y: -sin 10°
        // R = R_yaw · R_pitch · R_roll
        let all = HeadRotation(pitch: 0.3, yaw: 0.2, roll: 0.1).matrix
        let composed = HeadRotation.product(HeadRotation(pitch: 0, yaw: 0.2, roll: 0).matrix,
                                            HeadRotation.product(HeadRotation(pitch: 0.3, yaw: 0, roll: 0).matrix,
                                                                 HeadRotation(pitch: 0, yaw: 0, roll: 0.1).matrix))
        #expect(zip(all, composed).allSatisfy { abs($0 - $1) < 1e-12 })
    }

    @Test func previewTurnsTheHeadAndKeepsTheNeckBottom() throws {
        let renderer = try Self.shared.get()
        let face = renderer.face
        let names = face.expNames + HeadRotation.motionNames
        let pass = try FaceRenderPass(renderer: renderer, width: 128, height: 128, motionNames: names)
        var coefficients = [Float](repeating: 0, count: names.count)
        let still = try pass.render(MotionFrame(index: 0, coefficients: coefficients))
        // The same frame through the unposed graph (no head_* names) is identical: zero angles change nothing.
        let plain = try FaceRenderPass(renderer: renderer, width: 128, height: 128).render(
            MotionFrame(index: 0, coefficients: [Float](repeating: 0, count: face.expCount)))
        #expect(still.data == plain.data)
        coefficients[face.expCount] = 1.0      // head_pitch 10°
        coefficients[face.expCount + 1] = 2.0  // head_yaw 20°
        let turned = try pass.render(MotionFrame(index: 1, coefficients: coefficients))
        func meanDifference(rows: Range<Int>) -> Double {
            var s = 0.0
            for y in rows { for x in 0..<128 { s += abs(Double(turned.data[y * 128 + x]) - Double(still.data[y * 128 + x])) } }
            return s / Double(rows.count * 128)
        }
        let faceRows = meanDifference(rows: 20..<80), lowest = meanDifference(rows: 120..<128)
        print("pose preview: mean |ΔY| face rows \(faceRows), lowest rows \(lowest)")
        #expect(faceRows > 5, "the face moves")
        #expect(lowest < faceRows / 3, "the neck bends: its lowest visible part moves less than the face")
        // Geometry: vertices with weight 0 (the neck's bottom) do not move at all, weight-1 vertices move rigidly.
        let posed = try renderer.posedVertices(exp: [], rotation: HeadRotation(motionUnits: 1, yaw: 2, roll: 0))
        let neutral = face.vertices()
        let fixed = (0..<face.vertexCount).filter { face.poseWeight![$0] == 0 }
        #expect(fixed.count > 10)
        #expect(fixed.allSatisfy { i in (0..<3).allSatisfy { posed[3 * i + $0] == neutral[3 * i + $0] } })
    }

    @Test func headMotionNeedsThePoseRig() throws {
        let renderer = try Self.shared.get()
        let source = try SafeTensorsFile(url: Self.fixtures.appendingPathComponent("face_tiny.safetensors"))
        func copy(dropping dropped: Set<String>) throws -> URL {
            var writer = SafeTensorsWriter()
            writer.metadata = source.metadata
            for name in source.names where !dropped.contains(name) {
                let view = try source.tensor(name)
                if view.dtype == .i32 { writer.add(name, shape: view.shape, int32s: view.ints().map { Int32($0) }) }
                else { writer.add(name, shape: view.shape, floats: view.floats()) }
            }
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("face-\(UUID()).safetensors")
            try writer.write(to: url)
            return url
        }
        let noRig = try copy(dropping: ["pose_pivot", "pose_weight"])
        let halfRig = try copy(dropping: ["pose_weight"])
        defer { for url in [noRig, halfRig] { try? FileManager.default.removeItem(at: url) } }
        #expect { try FaceModel(url: halfRig) } throws: { ($0 as? FaceModelError)?.message.contains("'pose_weight'") == true }
        let face = try FaceModel(url: noRig)
        #expect(!face.hasPoseRig)
        let plain = try FaceRenderer(face: face, device: renderer.device, ops: renderer.ops)
        // Expression-only motion still renders; head_* motion is refused, naming the missing tensors.
        _ = try FaceRenderPass(renderer: plain, width: 64, height: 64, motionNames: face.expNames)
        #expect { try FaceRenderPass(renderer: plain, width: 64, height: 64, motionNames: face.expNames + ["head_yaw"]) } throws: {
            let message = ($0 as? FaceModelError)?.message ?? ""
            return message.contains("head_yaw") && message.contains("'pose_pivot'") && message.contains("'pose_weight'")
        }
    }
}

import AvatarFace
import AvatarFormats
import AvatarMedia
import AvatarOperators
import AvatarStages
import AvatarVulkan
import Foundation
import Testing

/// The Vulkan rasterizer against tools/demo/raster_ref.py (float64 numpy). Float32 edge functions differ from
/// float64 on a few silhouette and shared-edge pixels, so the SECC comparison allows a small budget of
/// mismatching pixels (≤ 0.5 %) and requires 1e-4 agreement everywhere else.
@Suite(.serialized) struct RasterizerTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/demo")

    static let shared: Result<FaceRenderer, any Error> = Result {
        let device = try VulkanDevice()
        let face = try FaceModel(url: fixtures.appendingPathComponent("face_tiny.safetensors"))
        return try FaceRenderer(face: face, device: device, ops: Operators(library: ShaderLibrary(device: device)))
    }

    @Test func seccMapsMatchTheReference() throws {
        let renderer = try Self.shared.get()
        let golden = try SafeTensorsFile(url: Self.fixtures.appendingPathComponent("secc_golden.safetensors"))
        for (caseName, sizes) in [("case0", [64, 128]), ("case1", [64, 128]), ("case2", [64])] {
            let id = try golden.tensor("\(caseName)_id").floats(), exp = try golden.tensor("\(caseName)_exp").floats()
            let vertices = renderer.face.vertices(id: id, exp: exp)
            for size in sizes {
                let got = try renderer.seccMap(vertices: vertices, width: size, height: size)
                let want = try golden.tensor("\(caseName)_secc\(size)").floats()
                let bad = zip(got, want).filter { abs($0 - $1) > 1e-4 }.count / 3
                let covered = want.filter { $0 != -1 }.count / 3
                #expect(covered > size * size / 10, "the face covers the frame")
                #expect(Double(bad) <= 0.005 * Double(size * size), "\(caseName) \(size): \(bad) mismatching pixels")
                #expect(got.allSatisfy { $0.isFinite && $0 >= -1 && $0 <= 1 })
            }
        }
    }

    @Test func previewShowsTheMouthOpeningAndDecodesAsI420() throws {
        let renderer = try Self.shared.get()
        let pass = try FaceRenderPass(renderer: renderer, width: 128, height: 128)
        let names = renderer.face.expNames
        let jaw = try #require(names.firstIndex(of: "jaw_open"))
        var open = [Float](repeating: 0, count: names.count)
        open[jaw] = 1
        let closedFrame = try pass.render(MotionFrame(index: 0, coefficients: [Float](repeating: 0, count: names.count)))
        let openFrame = try pass.render(MotionFrame(index: 1, coefficients: open))
        #expect(closedFrame.data.count == I420Frame.byteCount(width: 128, height: 128))
        // Background (top-left corner) is the light grey of the reference: Y ≈ 16 + 219·0.8 after the gradient.
        #expect(closedFrame.data[0] > 170 && closedFrame.data[0] < 215, "background luma \(closedFrame.data[0])")
        // The head is in the middle and darker than the background.
        let centre = Int(closedFrame.data[64 * 128 + 64])
        #expect(centre < Int(closedFrame.data[0]))
        // Opening the jaw darkens the mouth region (lower-middle of the face) and changes nothing far away.
        func meanLuma(_ f: I420Frame, rows: Range<Int>, cols: Range<Int>) -> Double {
            var s = 0.0
            for y in rows { for x in cols { s += Double(f.data[y * 128 + x]) } }
            return s / Double(rows.count * cols.count)
        }
        let mouthClosed = meanLuma(closedFrame, rows: 70..<100, cols: 50..<78)
        let mouthOpen = meanLuma(openFrame, rows: 70..<100, cols: 50..<78)
        #expect(mouthOpen < mouthClosed - 5, "mouth luma closed \(mouthClosed) open \(mouthOpen)")
        #expect(meanLuma(closedFrame, rows: 0..<10, cols: 0..<128) == meanLuma(openFrame, rows: 0..<10, cols: 0..<128))
    }

    @Test func badFaceModelsAreRefusedWithTheTensorName() throws {
        var writer = SafeTensorsWriter()
        writer.add("mean_shape", shape: [4, 3], floats: [Float](repeating: 0, count: 12))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bad-face-\(UUID()).safetensors")
        try writer.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect { try FaceModel(url: url) } throws: { ($0 as? FaceModelError)?.message.contains("exp_basis") == true }
    }
}

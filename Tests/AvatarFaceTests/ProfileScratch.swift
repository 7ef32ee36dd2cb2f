import AvatarFace
import AvatarFormats
import AvatarOperators
import AvatarStages
import AvatarVulkan
import Foundation
import Testing

@Test func profileScratch() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let device = try VulkanDevice()
    let face = try FaceModel(url: root.appendingPathComponent("Avatars/demo/face.safetensors"))
    let r = try FaceRenderer(face: face, device: device, ops: Operators(library: ShaderLibrary(device: device)))
    for (size, ss) in [(256, 1), (384, 2)] {
        let pass = try FaceRenderPass(renderer: r, width: size, height: size, supersampling: ss, timestamps: true)
        var c = [Float](repeating: 0, count: face.expCount); c[0] = 0.5
        _ = try pass.render(MotionFrame(index: 0, coefficients: c))
        let t = Date()
        for i in 0..<20 { c[0] = Float(i) / 20; _ = try pass.render(MotionFrame(index: i, coefficients: c)) }
        print("size \(size) ss \(ss): host \(Date().timeIntervalSince(t) / 20 * 1000) ms/frame;", pass.passTimings().map { "\($0.label) \(String(format: "%.2f", $0.seconds * 1000))" })
    }
}

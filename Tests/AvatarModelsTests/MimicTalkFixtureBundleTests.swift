import AvatarBundle
import AvatarModels
import Foundation
import Testing

/// The synthetic MimicTalk bundle that `tools/convert.py mimictalk` writes (Tests/Fixtures/mimictalk,
/// tools/make_mimictalk_fixture.py) opens with this build's kinds and carries every role and identity constant.
@Test func mimicTalkFixtureBundleIsComplete() throws {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/mimictalk")
    let bundle = try AvatarBundle(directory: url, supportedKinds: ModelKind.supported)
    let m = bundle.manifest
    #expect(m.components.map(\.role) == ["audio_frontend", "motion_model", "face_model", "renderer", "identity"])
    #expect(m.faceModel?.kind == ModelKind.bfm09Front)
    #expect(m.styles?.map(\.name) == ["calm"] && m.defaultStyle == "calm")
    let s = m.video.width
    let identity = try #require(bundle.file("identity.safetensors"))
    let expected: [String: [Int]] = [
        "gt_img": [1, 3, s, s], "id": [1, 80], "src_kp": [68, 3], "ref_torso_img": [1, 3, s, s], "bg_img": [1, 3, s, s],
        "segmap": [1, 6, s, s], "ref_euler": [3], "ref_trans": [3], "pose_euler": [30, 3], "pose_trans": [30, 3],
    ]
    for (name, shape) in expected { #expect(identity.tensors[name]?.shape == shape, "\(name)") }
    #expect(m.identity?.config?["pose"] == .string("track"))
    // Segmentation is one-hot: the six channels sum to 1 at every pixel.
    let seg = try identity.tensor("segmap").floats()
    let plane = s * s
    #expect((0..<plane).allSatisfy { p in (0..<6).reduce(Float(0)) { $0 + seg[$1 * plane + p] } == 1 })
}

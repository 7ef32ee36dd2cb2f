import AvatarBundle
import AvatarFormats
import AvatarRenderer
import Foundation
import Testing

/// The whole frame (what `avatard renderer frame` runs) on the small fixtures, against the float64 reference.
/// Tolerances: every module's float32 error stays near 1e-6 here (their own tests); the frame gets 2e-5 max /
/// 2e-6 mean, ten times the measured error, far below the full-size CI criterion (1e-3 / 1e-4).
@Suite(.serialized) struct MimicTalkRendererTests {
    static let inputNames = ["cond_cano", "cond_src", "cond_tgt", "ref_torso_img", "bg_img", "segmap", "kp_s", "kp_d", "camera",
                             "rand_stratified", "rand_importance"]

    static func renderer(_ name: String) throws -> (MimicTalkRenderer, RendererFixture) {
        let fixture = try RendererFixture(name)
        let bundle = try AvatarBundle(directory: RendererFixture.directory.appendingPathComponent(name),
                                      supportedKinds: ["renderer": ["mimictalk_renderer"], "identity": ["mimictalk_person"]])
        return (try MimicTalkRenderer(bundle: bundle, device: fixture.device, ops: fixture.ops), fixture)
    }

    static func inputs(_ fixture: RendererFixture, except: Set<String> = []) throws -> [String: [Float]] {
        var out: [String: [Float]] = [:]
        for name in inputNames where !except.contains(name) { out[name] = try fixture.values(name) }
        return out
    }

    @Test(arguments: ["small", "trigrid"]) func frameMatchesTheReferenceWithItsDumps(_ name: String) throws {
        let (renderer, fixture) = try Self.renderer(name)
        let frame = try renderer.frame(try Self.inputs(fixture), dumps: true)
        try fixture.expectClose(frame["image"]!, "image", maxAbs: 2e-5, meanAbs: 2e-6)
        try fixture.expectClose(frame["sr_image"]!, "sr_image", maxAbs: 2e-5, meanAbs: 2e-6)
        for key in ["feature_image", "weights_image", "depth_image", "rgb_torso", "torso_alpha", "person_alpha"] {
            try fixture.expectClose(frame[key]!, key, maxAbs: 2e-5, meanAbs: 2e-6)
        }
        // planes come back in upstream's orientation: plane 0 flipped in H relative to the bundle's planes_raw.
        let raw = try fixture.values("planes_raw"), p = renderer.config.planeRes
        let planes = try #require(frame["planes"])
        #expect(planes.count == raw.count)
        #expect(abs(planes[0] - raw[(p - 1) * p]) < 1e-5 && abs(planes[p - 1] - raw[p * p - 1]) < 1e-5)
        #expect(frame["rand_stratified"] == (try fixture.values("rand_stratified")))
    }

    @Test func missingDrawsAreDrawnFromTheSeedAndKpSFromTheIdentity() throws {
        let (renderer, fixture) = try Self.renderer("small")
        let base = try Self.inputs(fixture, except: ["rand_stratified", "rand_importance", "kp_s"])
        let a = try renderer.frame(base, seed: 5, dumps: true), b = try renderer.frame(base, seed: 5)
        #expect(a["image"] == b["image"])
        let draws = try #require(a["rand_stratified"])
        #expect(draws.allSatisfy { (0..<1).contains($0) } && Set(draws).count > draws.count / 2)
        #expect(try renderer.frame(base, seed: 6)["image"] != a["image"])
        // kp_s = the identity's src_kp with z = 0.
        var withKp = base
        withKp["kp_s"] = renderer.identity["src_kp"]!.enumerated().map { $0.offset % 3 == 2 ? 0 : $0.element }
        #expect(try renderer.frame(withKp, seed: 5)["image"] == a["image"])
    }

    /// The identity graph (torso appearance, sr_res torso and background) runs again when its inputs change, and
    /// its cached results give the same bits as a fresh renderer.
    @Test func identityConstantsFollowTheIdentityInputs() throws {
        let (renderer, fixture) = try Self.renderer("small")
        let base = try Self.inputs(fixture)
        let first = try renderer.frame(base)["image"]!
        var other = base
        other["bg_img"] = base["bg_img"]!.map { -$0 }
        other["ref_torso_img"] = base["ref_torso_img"]!.map { $0 * 0.5 }
        let changed = try renderer.frame(other)["image"]!
        #expect(changed != first)
        #expect(try renderer.frame(base)["image"]! == first)
        let (fresh, _) = try Self.renderer("small")
        #expect(try fresh.frame(other)["image"]! == changed)
    }

    @Test func badInputsAreRefusedNamingThem() throws {
        let (renderer, fixture) = try Self.renderer("small")
        func refusal(_ edit: (inout [String: [Float]]) -> Void) -> String {
            var inputs = (try? Self.inputs(fixture)) ?? [:]
            edit(&inputs)
            do { _ = try renderer.frame(inputs); return "" } catch { return "\(error)" }
        }
        #expect(refusal { $0["camera"] = nil }.contains("input camera [1, 25] is missing"))
        #expect(refusal { $0["segmap"]!.removeLast() }.contains("input segmap holds"))
        #expect(refusal { $0["kp_d"]![4] = .nan }.contains("input kp_d contains NaN or Inf"))

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("renderer-inputs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let inputs = try Self.inputs(fixture)
        for (name, shape) in renderer.inputShapes {
            try NumpyArray(shape: shape, values: inputs[name]!).write(to: dir.appendingPathComponent(name + ".npy"))
        }
        #expect(try renderer.readInputs(dir) == inputs)
        func readRefusal() -> String { do { _ = try renderer.readInputs(dir); return "" } catch { return "\(error)" } }
        try NumpyArray(shape: [1, 24], values: [Float](repeating: 0, count: 24)).write(to: dir.appendingPathComponent("camera.npy"))
        #expect(readRefusal().contains("camera.npy: shape [1, 24], expected [1, 25]"))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("camera.npy"))
        #expect(readRefusal().contains("camera.npy: missing"))
        try Data("junk".utf8).write(to: dir.appendingPathComponent("camera.npy"))
        #expect(readRefusal().contains("camera.npy: not a .npy file"))
        try NumpyArray(shape: [1], values: [0]).write(to: dir.appendingPathComponent("cameras.npy"))
        #expect(readRefusal().contains("cameras.npy: unknown input name"))
    }

    /// Fixed inputs (a session's constants) are checked and written once: frames that pass only what changes give
    /// the same bits as frames given everything, and an input given to one frame replaces the fixed one for that
    /// frame only.
    @Test func fixedInputsGiveTheSameFramesAsFullInputs() throws {
        let (full, fixture) = try Self.renderer("small")
        let (session, _) = try Self.renderer("small")
        let all = try Self.inputs(fixture)
        let perFrame: Set<String> = ["cond_tgt", "kp_d", "camera", "rand_stratified", "rand_importance"]
        try session.setFixedInputs(all.filter { !perFrame.contains($0.key) })
        let changing = all.filter { perFrame.contains($0.key) }
        let want = try full.frame(all)["image"]
        #expect(try session.frame(changing)["image"] == want)
        #expect(try session.frame(changing)["image"] == want)
        var other = changing
        other["cond_cano"] = all["cond_cano"]!.map { -$0 }
        let overridden = try session.frame(other)["image"]
        let direct = try full.frame(all.merging(other) { $1 })["image"]
        #expect(overridden != want && overridden == direct)
        #expect(try session.frame(changing)["image"] == want, "the fixed cond_cano is back on the next frame")
        #expect(throws: (any Error).self) { try session.setFixedInputs(["no_such_input": [0]]) }
    }
}

import AvatarBundle
import AvatarConfig
import AvatarFace
import AvatarModels
import AvatarPipeline
import AvatarOperators
import AvatarStages
import AvatarTestSupport
import AvatarVulkan
import Foundation
import Testing

/// Per-session pose through `[avatars.variants.NAME]`: the fixture MimicTalk avatar (its bundle has a pose track)
/// served under other names, each session's stages made as the daemon makes them (`SessionPlanner` passes style
/// and seed; the variant adds its pose).
@Suite struct PoseVariantTests {
    static let config = """
    [avatars.variants.fixture_still]
    avatar = "fixture_mimictalk"
    pose = "static"
    [avatars.variants.fixture_left]
    avatar = "fixture_mimictalk"
    pose = "static"
    static_pose = [0.05, 0.3, -0.02, 0.01, -0.02, 0.1]
    [avatars.variants.fixture_moving]
    avatar = "fixture_mimictalk"
    pose = "track"
    """
    static let left = HeadPose(euler: SIMD3(0.05, 0.3, -0.02), trans: SIMD3(0.01, -0.02, 0.1))
    static let camera = MimicTalkMotionStage.expressionCount + MimicTalkMotionStage.keypointValues

    static func registry() throws -> AvatarRegistry {
        let avatar = try MimicTalkAvatarTests.avatar.get()
        let variants = PoseVariantAvatar.make(try DaemonConfig.parse(config, file: "c.toml").avatarVariants, of: [avatar])
        #expect(variants.problems.isEmpty, "\(variants.problems)")
        return AvatarRegistry([avatar] + variants.avatars)
    }

    /// One second of a 220 Hz tone through a session of the avatar named `name`; the motion frames.
    static func motion(_ registry: AvatarRegistry, _ name: String) throws -> [MotionFrame] {
        let avatar = try #require(registry[name])
        return try motion(avatar, SessionStageOptions(style: avatar.defaultStyle, seed: 1))
    }

    static func motion(_ avatar: any Avatar, _ options: SessionStageOptions) throws -> [MotionFrame] {
        let stages = try avatar.makeStages(options: options)
        let tone = (0..<16000).map { Float(0.3 * sin(2 * Double.pi * 220 * Double($0) / 16000)) }
        return try stages.motion.append(stages.features.append(tone)) + stages.motion.append(stages.features.flush()) + stages.motion.flush()
    }

    static func cameras(_ frames: [MotionFrame]) -> [[Float]] { frames.map { Array($0.coefficients[camera...]) } }

    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? .infinity }

    @Test func eachNameGivesItsSessionsItsPose() throws {
        let registry = try Self.registry()
        #expect(registry.names == ["fixture_left", "fixture_mimictalk", "fixture_moving", "fixture_still"])
        let own = try Self.motion(registry, "fixture_mimictalk")
        let moving = try Self.motion(registry, "fixture_moving")
        let still = try Self.motion(registry, "fixture_still")
        let left = try Self.motion(registry, "fixture_left")
        #expect([own, moving, still, left].allSatisfy { $0.count == 25 })

        // track: the bundle's own pose source, the head moving along the track.
        #expect(moving.map(\.coefficients) == own.map(\.coefficients))
        #expect(Set(Self.cameras(own).map { $0.map(\.bitPattern) }).count > 20, "the track moves the head")
        // static: the reference pose held, as `avatard render --pose static` holds it.
        let base = try MimicTalkAvatarTests.avatar.get()
        let reference = try Self.motion(base, SessionStageOptions(style: base.defaultStyle, seed: 1, pose: .reference))
        #expect(still.map(\.coefficients) == reference.map(\.coefficients))
        let held = Self.cameras(still)
        let drift = held.map { Self.maxDifference($0, held[0]) }.max() ?? 0
        #expect(drift < 1e-6, "still camera drift \(drift)")
        // static_pose: every frame's camera is that pose's, within float rounding of the 7-frame mean.
        let expected = try PoseSource.static(Self.left).liveCamera(frame: 0)
        let errors = Self.cameras(left).map { Self.maxDifference($0, expected) }
        print("fixture_left: camera max |Δ| to the configured pose's \(errors.max() ?? 0)")
        #expect(errors.allSatisfy { $0 < 1e-5 }, "\(errors)")
        // The three are told apart: the configured pose is far from the reference pose and from the track.
        #expect(Self.maxDifference(held[0], expected) > 0.05)
        #expect(Self.cameras(own).allSatisfy { Self.maxDifference($0, expected) > 0.05 })
        // The expression does not depend on the pose.
        let expressions = [own, still, left].map { $0.map { Array($0.coefficients[..<MimicTalkMotionStage.expressionCount]) } }
        #expect(expressions[1] == expressions[0] && expressions[2] == expressions[0])
    }

    /// The fixture bundle with `identity.config.pose` "static" (as `convert.py mimictalk --pose-static` writes it).
    static func staticPoseBundle() throws -> any Avatar {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let fixture = root.appendingPathComponent("Tests/Fixtures/mimictalk")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mimictalk-static-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: fixture, to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        let manifest = dir.appendingPathComponent("manifest.json")
        let text = try String(contentsOf: manifest, encoding: .utf8)
        let edited = text.replacingOccurrences(of: "\"pose\": \"track\"", with: "\"pose\": \"static\"")
            .replacingOccurrences(of: "\"name\": \"fixture_mimictalk\"", with: "\"name\": \"fixture_static\"")
        #expect(edited != text)
        try edited.write(to: manifest, atomically: true, encoding: .utf8)
        let bundle = try AvatarBundle(directory: dir, supportedKinds: ModelKind.supported)
        return try AvatarFactory.makeAvatar(bundle, context: try ComputeContext(requirement: DeviceRequirement(), cacheDirectory: nil))
    }

    @Test func aVariantThatCannotBeServedIsLeftOutNamingItsKey() throws {
        let avatar = try MimicTalkAvatarTests.avatar.get()
        let config = try DaemonConfig.parse("""
        [avatars.variants.nobody]
        avatar = "fixture_mimictalk_typo"
        pose = "static"
        [avatars.variants.fixture_mimictalk]
        avatar = "fixture_mimictalk"
        pose = "static"
        [avatars.variants.envelope_still]
        avatar = "envelope"
        pose = "static"
        [avatars.variants.ok]
        avatar = "fixture_mimictalk"
        pose = "track"
        """, file: "c.toml")
        let made = PoseVariantAvatar.make(config.avatarVariants, of: [avatar, EnvelopeAvatar()])
        #expect(made.avatars.map(\.name) == ["ok"])
        #expect(made.problems == [
            "c.toml: avatars.variants.envelope_still.pose: avatar 'envelope' has no head pose",
            "c.toml: avatars.variants.fixture_mimictalk.avatar: the variant's name 'fixture_mimictalk' is a loaded avatar's",
            "c.toml: avatars.variants.nobody.avatar: no avatar named 'fixture_mimictalk_typo' is loaded (loaded: envelope, "
                + "fixture_mimictalk)",
        ])
        // The MimicTalk avatar takes every pose (its bundle has a track); a track on a static-pose bundle is refused.
        for pose: SessionPose in [.avatar, .reference, .track, .fixed(euler: [0, 0.1, 0], trans: [0, 0, 0])] {
            #expect(avatar.poseRefusal(pose) == nil)
        }
        let still = try Self.staticPoseBundle()
        #expect(still.poseRefusal(.track) == "avatar 'fixture_static' has no pose track (converted with --pose-static or without --pose)")
        #expect(still.poseRefusal(.fixed(euler: [0, 0.1, 0], trans: [0, 0, 0])) == nil)
        let refused = PoseVariantAvatar.make(try DaemonConfig.parse("[avatars.variants.s]\navatar = \"fixture_static\"\npose = \"track\"\n",
                                                                   file: "c.toml").avatarVariants, of: [still])
        #expect(refused.avatars.isEmpty && refused.problems == ["c.toml: avatars.variants.s.pose: avatar 'fixture_static' has no "
                                                                + "pose track (converted with --pose-static or without --pose)"])
        #expect(throws: (any Error).self) { try still.makeStages(options: SessionStageOptions(pose: .track)) }
        #expect(EnvelopeAvatar().poseRefusal(.avatar) == nil)
        // A variant describes itself and otherwise is its avatar.
        let variant = try #require(made.avatars.first as? PoseVariantAvatar)
        #expect(variant.description.hasPrefix("fixture_mimictalk with its pose track"))
        #expect(variant.width == avatar.width && variant.motionNames == avatar.motionNames
                && variant.algorithmicLatencyMs == avatar.algorithmicLatencyMs && variant.styles == avatar.styles)
    }
}

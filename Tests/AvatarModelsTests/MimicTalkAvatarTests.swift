import AvatarBundle
import AvatarModels
import AvatarOperators
import AvatarStages
import AvatarVulkan
import Foundation
import Testing

/// The fixture MimicTalk bundle (Tests/Fixtures/mimictalk) loaded as the daemon loads it, its stages driven directly.
@Suite struct MimicTalkAvatarTests {
    static let avatar: Result<any Avatar, any Error> = Result {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let bundle = try AvatarBundle(directory: root.appendingPathComponent("Tests/Fixtures/mimictalk"), supportedKinds: ModelKind.supported)
        return try AvatarFactory.makeAvatar(bundle, context: try ComputeContext(requirement: DeviceRequirement(), cacheDirectory: nil))
    }

    /// One second of a 220 Hz tone through the stages; the motion frames.
    func motion(_ options: SessionStageOptions) throws -> [MotionFrame] {
        let stages = try Self.avatar.get().makeStages(options: options)
        let tone = (0..<16000).map { Float(0.3 * sin(2 * Double.pi * 220 * Double($0) / 16000)) }
        return try stages.motion.append(stages.features.append(tone)) + stages.motion.append(stages.features.flush()) + stages.motion.flush()
    }

    @Test func theAvatarDescribesItsMotionAndLatency() throws {
        let avatar = try Self.avatar.get()
        #expect(avatar.rendersVideo)
        #expect(avatar.motionNames.count == MimicTalkMotionStage.dimension)
        #expect(avatar.motionNames.prefix(1) == ["bfm_exp_0"] && avatar.motionNames.last == "camera.24")
        // The keypoint filter's 3 frames are part of the stated latency.
        #expect(avatar.algorithmicLatencyMs >= 1000 * MimicTalkMotionStage.lookaheadFrames / avatar.fps)
    }

    @Test func thePoseTrackMovesTheCameraAndStaticPoseHoldsIt() throws {
        let camera = MimicTalkMotionStage.expressionCount + MimicTalkMotionStage.keypointValues
        let track = try motion(SessionStageOptions(seed: 1))
        let held = try motion(SessionStageOptions(seed: 1, pose: .reference))
        #expect(track.count == 25 && held.count == 25)
        #expect(Set(track.map { Array($0.coefficients[camera...]) }).count > 20, "the track moves the head")
        // A static pose holds it (the 7-frame rotation mean of equal rotations is equal up to float rounding).
        let first = Array(held[0].coefficients[camera...])
        let drift = held.map { zip($0.coefficients[camera...], first).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
        #expect(drift < 1e-6, "static camera drift \(drift)")
        // The expression does not depend on the pose.
        #expect(track.map { Array($0.coefficients[..<MimicTalkMotionStage.expressionCount]) }
                == held.map { Array($0.coefficients[..<MimicTalkMotionStage.expressionCount]) })
    }
}

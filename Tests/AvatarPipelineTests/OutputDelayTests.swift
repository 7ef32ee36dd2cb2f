import AvatarConfig
import AvatarPipeline
import AvatarProtocol
import AvatarTestSupport
import Foundation
import Testing

/// Live outputs wait at least for the avatar's look-ahead: a shorter fixed delay would turn every sliding
/// window into an underrun (silence inserted into the timeline) for real-time clients.
struct OutputDelayTests {
    static func plan(configured: Int, latency: Int, output: String) throws -> SessionPlan {
        var avatar = EnvelopeAvatar()
        avatar.algorithmicLatencyMs = latency
        var config = DaemonConfig()
        config.outputDelayMs = configured
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let presets = PresetCatalog.load(directory: root.appendingPathComponent("Pipelines").path, operatorPresets: [])
        let planner = SessionPlanner(avatars: AvatarRegistry([avatar]), presets: presets, config: config)
        return try planner.plan(SessionStart(avatar: "envelope", output: output), sessionID: "t")
    }

    @Test func delayCoversTheAvatarsLookAhead() throws {
        // 245 ms of look-ahead + one 40 ms frame + 100 ms compute margin.
        #expect(try Self.plan(configured: 300, latency: 245, output: "rtp-vp8").effectiveDelayMs == 385)
        // A longer configured delay is kept; avatars without look-ahead keep the configured one.
        #expect(try Self.plan(configured: 500, latency: 245, output: "rtp-vp8").effectiveDelayMs == 500)
        #expect(try Self.plan(configured: 300, latency: 0, output: "rtp-vp8").effectiveDelayMs == 300)
        // Offline outputs have no delay.
        #expect(try Self.plan(configured: 300, latency: 245, output: "file-mp4").effectiveDelayMs == 0)
    }
}

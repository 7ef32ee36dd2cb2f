import AvatarBundle
import AvatarConfig
import AvatarModels
import AvatarMotion
import AvatarOperators
import AvatarPipeline
import AvatarStages
import AvatarTestSupport
import AvatarVulkan
import Foundation
import Logging
import Synchronization
import Testing

/// `avatard render --window full` on a HuBERT bundle through the session pipeline (Opus packets in, motion
/// out): the utterance-mode front-end emits nothing until the session's close flushes it, and the session
/// still ends with one motion frame per 40 ms of audio.
@Suite(.timeLimit(.minutes(2))) struct FullWindowSessionTests {
    struct NoOutput: Error {}

    @Test func offlineFullWindowSessionFlushesAtCloseAndEnds() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("full-window-session-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FullWindowParityTests.Fixture().writeBundle(to: dir)
        let bundle = try AvatarBundle(directory: dir, supportedKinds: ModelKind.supported)
        let avatar = try AvatarFactory.makeAvatar(bundle, context: try ComputeContext(requirement: DeviceRequirement(), cacheDirectory: nil))
        #expect(!avatar.rendersVideo)

        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let presets = PresetCatalog.load(directory: root.appendingPathComponent("Pipelines").path, operatorPresets: [])
        let preset = try #require(presets["file-mp4"])
        // 1.4 s: speech-like tone, a pause, quieter tone (35 frames).
        let packets = try TestAudio.packets(TestAudio.segments([(0.6, 0.4), (0.3, 0), (0.5, 0.2)])).map { ($0, 960) }
        func render(fullWindow: Bool) async throws -> (ended: Int, frames: [MotionFrameRecord]) {
            let plan = SessionPlan(sessionID: "fw", avatar: avatar, stageOptions: SessionStageOptions(seed: 3, fullWindow: fullWindow),
                                   preset: preset, pipeline: "", outputFile: nil, outputDelayMs: 0, maxBufferSeconds: 2, motionOnly: true)
            let frames = Mutex<[MotionFrameRecord]>([])
            let ended = try await OfflineRender.run(plan: plan, packets: packets,
                                                    makeOutput: { _, _, _ in throw NoOutput() },
                                                    logger: Logger(label: "t"), onMotion: { f in frames.withLock { $0.append(f) } })
            return (ended.frames, frames.withLock { $0 })
        }
        let full = try await render(fullWindow: true)
        #expect(full.ended == 35)
        #expect(full.frames.map(\.index) == Array(0..<35))
        #expect(full.frames.allSatisfy { $0.coefficients.count == 8 && $0.coefficients.allSatisfy(\.isFinite) })
        // The streaming session on the same audio ends the same way with other motion (another front-end).
        let streaming = try await render(fullWindow: false)
        #expect(streaming.ended == 35 && streaming.frames.count == 35)
        #expect(streaming.frames.map(\.coefficients) != full.frames.map(\.coefficients))
    }
}

import AvatarConfig
import AvatarMedia
import AvatarPipeline
import AvatarStages
import AvatarTestSupport
import Foundation
import Logging
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(2))) struct OfflineRenderTests {
    static var presets: PresetCatalog {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return PresetCatalog.load(directory: root.appendingPathComponent("Pipelines").path, operatorPresets: [])
    }

    func packets(_ seconds: Double) throws -> [(data: [UInt8], duration48k: Int)] {
        try TestAudio.packets(TestAudio.segments([(seconds, 0.4)])).map { ($0, 960) }
    }

    @Test func rendersAFileThroughTheSessionPipeline() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("render-\(UUID().uuidString).mp4").path
        let preset = try #require(Self.presets["file-mp4"])
        let pipeline = try preset.resolve(clientOptions: [:], daemonValues: [
            "location": "\"\(file)\"", "session_id": "r", "width": "64", "height": "64", "fps": "25", "keyframe_interval": "50"])
        let plan = SessionPlan(sessionID: "r", avatar: EnvelopeAvatar(), stageOptions: .init(), preset: preset,
                               pipeline: pipeline.text, outputFile: file, outputDelayMs: 0, maxBufferSeconds: 2)
        let progress = Mutex(0)
        let ended = try await OfflineRender.run(plan: plan, packets: try packets(3.0),
                                                makeOutput: GStreamerSessionOutput.factory(allowedElements: ElementAllowlist.standard),
                                                logger: Logger(label: "t"), progress: { p in progress.withLock { $0 = max($0, p.frames) } })
        #expect(ended.frames == 75)
        #expect(progress.withLock { $0 } == 75)
        let probe = try MediaProbe(path: file)
        #expect(probe.frames.count == 75)
        #expect(abs(probe.audioDuration - 3.0) <= 0.04)
    }

    @Test func motionOnlyNeedsNoOutput() async throws {
        let preset = try #require(Self.presets["file-mp4"])
        var avatar = EnvelopeAvatar()
        avatar.rendersVideo = false
        let plan = SessionPlan(sessionID: "m", avatar: avatar, stageOptions: .init(), preset: preset, pipeline: "",
                               outputFile: nil, outputDelayMs: 0, maxBufferSeconds: 2, motionOnly: true)
        let frames = Mutex<[MotionFrameRecord]>([])
        let ended = try await OfflineRender.run(plan: plan, packets: try packets(1.0),
                                                makeOutput: { _, _, _ in throw OutputError.failed("must not be called") },
                                                logger: Logger(label: "t"), onMotion: { f in frames.withLock { $0.append(f) } })
        #expect(ended.frames == 25)
        let indices = frames.withLock { $0.map(\.index) }
        #expect(indices == Array(0..<25))
    }
}

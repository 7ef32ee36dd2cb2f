import AvatarConfig
import AvatarMotion
import AvatarPipeline
import AvatarStages
import AvatarTestSupport
import Foundation
import Logging
import Synchronization
import Testing

/// A live session that cannot keep up skips ahead to the wall clock; the skip interrupts the motion stage with the
/// picture on screen, so the eye process is re-based there and keeps the session's clock: every frame the session
/// pushes, before and after each skip, carries the eye values of its own frame number.
@Suite(.serialized, .timeLimit(.minutes(2))) struct EyeClockOverloadTests {
    /// The envelope test avatar with four more columns, the eyes, which `EyeMotionStage` fills from the process.
    struct EyedEnvelopeAvatar: Avatar {
        var envelope = EnvelopeAvatar()
        let eyes: EyeMotionConfig
        var name: String { "eyed-envelope" }
        var description: String { "test avatar: envelope mouth, eyes from the session's eye process" }
        var width: Int { envelope.width }
        var height: Int { envelope.height }
        var fps: Int { envelope.fps }
        var styles: [String] { envelope.styles }
        var defaultStyle: String? { envelope.defaultStyle }
        var motionNames: [String] { envelope.motionNames + EyeMotionConfig.motionNames }
        var rendersVideo: Bool { true }

        func makeStages(options: SessionStageOptions) throws -> SessionStages {
            var stages = try envelope.makeStages(options: options)
            let widened = ZeroColumns(inner: stages.motion, extra: EyeMotionConfig.motionNames.count)
            stages.motion = try EyeMotionStage(inner: widened, process: EyeMotionProcess(config: eyes, fps: fps, seed: options.seed),
                                               motionNames: motionNames)
            return stages
        }
    }

    /// Appends zero columns to every frame of the inner stage.
    final class ZeroColumns: MotionStage {
        let inner: any MotionStage
        let extra: Int
        init(inner: any MotionStage, extra: Int) {
            self.inner = inner
            self.extra = extra
        }
        var dimension: Int { inner.dimension + extra }
        func append(_ features: FeatureRows) throws -> [MotionFrame] { try inner.append(features).map(widen) }
        func flush() throws -> [MotionFrame] { try inner.flush().map(widen) }
        func interrupt(lastRendered: MotionFrame?) { inner.interrupt(lastRendered: lastRendered) }
        private func widen(_ frame: MotionFrame) -> MotionFrame {
            MotionFrame(index: frame.index, coefficients: frame.coefficients + [Float](repeating: 0, count: extra))
        }
    }

    @Test func overloadSkipsKeepTheEyesOnTheSessionClock() async throws {
        // Frequent, long blinks and short fixations, so the frames pushed between the skips hold several of each.
        var eyes = EyeMotionConfig()
        eyes.blinkInterval = 0.5...1.0
        eyes.blinkDuration = 0.3...0.4
        eyes.fixation = 0.2...0.5
        var avatar = EyedEnvelopeAvatar(eyes: eyes)
        avatar.envelope.motionDelay = 0.05  // more than a frame's time: the session falls behind and skips
        let preset = OutputPreset(name: "test", mode: .live, description: "", pipeline: "", options: [], origin: "test")
        let plan = SessionPlan(sessionID: UUID().uuidString, avatar: avatar, stageOptions: SessionStageOptions(seed: 11), preset: preset,
                               pipeline: "", outputFile: nil, outputDelayMs: 100, maxBufferSeconds: 10)
        let motion = Mutex<[MotionFrameRecord]>([])
        let session = Session(plan: plan, makeOutput: { _, _, _ in RecordingOutput() }, logger: Logger(label: "test"),
                              onMotion: { record in motion.withLock { $0.append(record) } })
        for (i, p) in try TestAudio.packets(TestAudio.segments([(4.0, 0.6)])).enumerated() {
            session.audio(seq: UInt32(i), ts: UInt64(i) * 960, payload: p)
        }
        session.send(.close)
        var dropped: Int?
        for await event in session.events { if case .ended(let e) = event { dropped = e.framesDropped } }
        let framesDropped = try #require(dropped, "no session.ended")
        #expect(framesDropped > 10, "the session should have skipped frames: \(framesDropped) dropped")
        let frames = motion.withLock { $0 }
        let indices = frames.map(\.index)
        #expect(zip(indices, indices.dropFirst()).contains { $1 > $0 + 1 }, "no skip among the pushed frames: \(indices)")
        let process = EyeMotionProcess(config: eyes, fps: avatar.fps, seed: 11)
        let columns = 1...EyeMotionConfig.motionNames.count
        for frame in frames {
            let v = process.values(frame: frame.index)
            #expect(columns.map { frame.coefficients[$0] } == [v.blinkLeft, v.blinkRight, v.eyesLeft, v.eyesUp], "frame \(frame.index)")
        }
        // The eyes moved over the frames pushed (so a clock off by the skipped frames could not match by chance).
        #expect(Set(frames.map { $0.coefficients[3] }).count > 3, "gaze of the \(frames.count) frames pushed: \(indices)")
        #expect(frames.contains { $0.coefficients[1] > 0.1 }, "no lid movement among the \(frames.count) frames pushed: \(indices)")
    }
}

import AvatarConfig
import AvatarPipeline
import AvatarProtocol
import AvatarStages
import AvatarTestSupport
import Foundation
import Logging
import Synchronization
import Testing

@Suite(.serialized, .timeLimit(.minutes(2))) struct SessionTimelineTests {
    func plan(mode: OutputMode, avatar: EnvelopeAvatar = EnvelopeAvatar(), delayMs: Int = 200, maxBuffer: Double = 10) -> SessionPlan {
        let preset = OutputPreset(name: "test", mode: mode, description: "", pipeline: "", options: [], origin: "test")
        return SessionPlan(sessionID: UUID().uuidString, avatar: avatar, stageOptions: SessionStageOptions(), preset: preset,
                           pipeline: "", outputFile: nil, outputDelayMs: delayMs, maxBufferSeconds: maxBuffer)
    }

    /// Runs a session to completion and returns its events.
    func collect(_ session: Session) async -> [SessionEvent] {
        var events: [SessionEvent] = []
        for await e in session.events { events.append(e) }
        return events
    }

    /// Runs a session to its end, or aborts it after `limit` and returns nil (a session that would hang).
    func collect(_ session: Session, within limit: Duration) async -> [SessionEvent]? {
        let finished = Mutex(false)
        let collector = Task { () -> [SessionEvent] in
            let events = await collect(session)
            finished.withLock { $0 = true }
            return events
        }
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit {
            if finished.withLock({ $0 }) { return await collector.value }
            try? await Task.sleep(for: .milliseconds(50))
        }
        session.send(.abort(goingAway: false))
        _ = await collector.value
        return nil
    }

    func ended(_ events: [SessionEvent]?) -> ServerMessage.Ended? {
        events?.compactMap { if case .ended(let e) = $0 { e } else { nil } }.first
    }

    func send(_ packets: [[UInt8]], to session: Session, firstSeq: UInt32 = 0, firstTs: UInt64 = 0) {
        for (i, p) in packets.enumerated() {
            session.audio(seq: firstSeq &+ UInt32(i), ts: firstTs + UInt64(i) * 960, payload: p)
        }
    }

    @Test func offlineFramesFollowTheAudioAndStayInSync() async throws {
        let output = RecordingOutput()
        let session = Session(plan: plan(mode: .offline), makeOutput: { _, _, _ in output }, logger: Logger(label: "test"))
        let pcm = TestAudio.segments([(1.0, 0.5), (0.6, 0), (0.4, 0.5)])
        send(try TestAudio.packets(pcm), to: session)
        session.send(.close)
        let events = await collect(session)
        guard case .ended(let ended)? = events.first(where: { if case .ended = $0 { true } else { false } }) else {
            Issue.record("no session.ended: \(events)")
            return
        }
        // 2.0 s of audio at 25 fps: 50 frames, no more.
        #expect(ended.frames == 50)
        #expect(output.video.count == 50)
        #expect(output.finished)
        // Offline outputs carry no delay: frame k at k·40 ms.
        #expect(output.video.enumerated().allSatisfy { $0.element.pts == UInt64($0.offset) * 40_000_000 })
        // Audio covers the same span continuously: 100 packets of 20 ms from 0 to 2 s.
        let audio = output.audio
        #expect(audio.count == 100)
        #expect(audio.first?.pts == 0)
        for (a, b) in zip(audio, audio.dropFirst()) { #expect(b.pts == a.pts + a.duration) }
        // Mouth follows the envelope: open during the tones, closed in the silence (allowing codec ramps).
        let bars = output.video.map(\.barHeight)
        #expect(bars[5..<23].allSatisfy { $0 > 10 }, "\(bars)")
        #expect(bars[28..<38].allSatisfy { $0 == 0 }, "\(bars)")
        #expect(bars[42..<48].allSatisfy { $0 > 10 }, "\(bars)")
    }

    /// A renderer that allows two frames in flight gets two from an offline session (frame N+1 is submitted
    /// before frame N is read back), and the output is the same frames, in order, as with one.
    @Test func offlineSessionsKeepTwoFramesInFlight() async throws {
        let pcm = TestAudio.segments([(0.6, 0.5), (0.4, 0)])
        var results: [[(pts: UInt64, bar: Int)]] = []
        for inFlight in [1, 2] {
            var avatar = EnvelopeAvatar()
            avatar.framesInFlight = inFlight
            let probe = InFlightProbe()
            avatar.inFlightProbe = probe
            let output = RecordingOutput()
            let session = Session(plan: plan(mode: .offline, avatar: avatar), makeOutput: { _, _, _ in output }, logger: Logger(label: "test"))
            send(try TestAudio.packets(pcm), to: session)
            session.send(.close)
            let events = await collect(session)
            #expect(ended(events)?.frames == 25)
            #expect(probe.maximum == inFlight)
            #expect(output.finished && output.video.count == 25)
            results.append(output.video.map { ($0.pts, $0.barHeight) })
        }
        #expect(results[0].map(\.pts) == results[1].map(\.pts))
        #expect(results[0].map(\.bar) == results[1].map(\.bar))
    }

    @Test func liveOutputsEmitIdleFramesWithoutAudio() async throws {
        let output = RecordingOutput()
        let session = Session(plan: plan(mode: .live, delayMs: 100), makeOutput: { _, _, _ in output }, logger: Logger(label: "test"))
        let collector = Task { await collect(session) }
        try await Task.sleep(for: .milliseconds(1000))
        session.send(.close)
        let events = await collector.value
        #expect(events.contains { if case .ended = $0 { true } else { false } })
        // No audio at all, yet frames keep coming (about 25 per second of wall clock; the exact count depends on
        // scheduling): idle, mouth closed, contiguous PTS carrying the fixed delay.
        let video = output.video
        #expect(video.count >= 10, "\(video.count) frames")
        #expect(video.allSatisfy { $0.barHeight == 0 })
        #expect(video.enumerated().allSatisfy { $0.element.pts == 100_000_000 + UInt64($0.offset) * 40_000_000 })
        // The output audio is continuous silence alongside.
        #expect(!output.audio.isEmpty)
    }

    @Test func interruptDropsUnrenderedAudioAndClosesTheMouth() async throws {
        let tone = try TestAudio.packets(TestAudio.segments([(8.0, 0.6)]))
        let output = RecordingOutput()
        let session = Session(plan: plan(mode: .live, delayMs: 100), makeOutput: { _, _, _ in output }, logger: Logger(label: "test"))
        let collector = Task { await collect(session) }
        // 8 s of loud tone delivered at once, interrupted after about 0.5 s of wall clock.
        send(tone, to: session)
        try await Task.sleep(for: .milliseconds(500))
        session.send(.interrupt)
        try await Task.sleep(for: .milliseconds(500))
        session.send(.close)
        let events = await collector.value
        guard case .interrupted(let ts)? = events.first(where: { if case .interrupted = $0 { true } else { false } }) else {
            Issue.record("no input.interrupted")
            return
        }
        let bars = output.video.map(\.barHeight)
        let openFrames = bars.filter { $0 > 10 }.count
        // The tone was cut: far less than its 200 frames were rendered, and last_rendered_ts matches them
        // (the first frames idle on silence until the tone arrives, hence the slack).
        #expect(ts > 0 && ts < 48000 * 6)
        #expect(openFrames < 150, "\(bars)")
        #expect(abs(openFrames - Int(ts / 1920)) <= 3, "ts \(ts): \(bars)")
        // Within 200 ms (5 frames) of the interruption point the mouth is closed and stays closed.
        if let lastOpen = bars.lastIndex(where: { $0 > 10 }) {
            #expect(bars[(lastOpen + 1)...].allSatisfy { $0 == 0 })
            #expect(bars.count - lastOpen > 5)
        }
    }

    /// A live session on a device that cannot keep up (motion at half real-time speed) skips ahead instead
    /// of drifting: it acts on control messages promptly, ends on time, and its output stays continuous.
    @Test func overloadedLiveSessionSkipsAheadAndStaysContinuous() async throws {
        var slow = EnvelopeAvatar()
        slow.motionDelay = 0.08
        let tone = try TestAudio.packets(TestAudio.segments([(4.0, 0.6)]))
        let output = RecordingOutput()
        let started = ContinuousClock.now
        let session = Session(plan: plan(mode: .live, avatar: slow, delayMs: 100), makeOutput: { _, _, _ in output },
                              logger: Logger(label: "test"))
        send(tone, to: session)
        session.send(.close)
        let events = await collect(session)
        let elapsed = try #require(output.finishedAt) - started
        guard case .ended(let ended)? = events.first(where: { if case .ended = $0 { true } else { false } }) else {
            Issue.record("no session.ended: \(events)")
            return
        }
        // Every frame of the 4 s was pushed, at its own PTS; those the device could not make repeat a picture.
        #expect((100...102).contains(ended.frames), "\(ended)")
        #expect(ended.framesDropped > 10, "\(ended)")
        #expect(output.video.enumerated().allSatisfy { $0.element.pts == 100_000_000 + UInt64($0.offset) * 40_000_000 })
        // The audio is complete and contiguous.
        let audio = output.audio
        #expect(audio.count == 2 * ended.frames)
        for (a, b) in zip(audio, audio.dropFirst()) { #expect(b.pts == a.pts + a.duration) }
        // Not 2× real time (8 s): the session kept to the wall clock (measured on the session's thread).
        #expect(elapsed < .seconds(7), "\(elapsed)")
        // The first frame after each skip is rendered, so the picture does not freeze for good.
        #expect(ended.frames - ended.framesDropped >= 2, "\(ended)")
    }

    /// A stage that emits nothing until it has more audio than the feed horizon (a long look-ahead, or
    /// full-utterance motion) still gets all of it, and `session.close` ends the session.
    @Test func offlineStageWithLongLookAheadEnds() async throws {
        var deep = EnvelopeAvatar()
        deep.lookaheadRows = 40 // 20 frames, beyond the 12-frame feed horizon
        let tone = try TestAudio.packets(TestAudio.segments([(2.0, 0.5)]))
        let output = RecordingOutput()
        let session = Session(plan: plan(mode: .offline, avatar: deep), makeOutput: { _, _, _ in output }, logger: Logger(label: "test"))
        send(tone, to: session)
        session.send(.close)
        let e = ended(await collect(session, within: .seconds(20)))
        #expect(e?.frames == 50, "\(String(describing: e)); \(output.video.count) frames pushed")
    }

    /// `input.interrupt` after `session.close` drops the audio the close was waiting for: the session ends at
    /// the interruption point.
    @Test func interruptAfterCloseEndsTheSession() async throws {
        var slow = EnvelopeAvatar()
        slow.renderDelay = 0.01
        let tone = try TestAudio.packets(TestAudio.segments([(4.0, 0.5)]))
        let output = RecordingOutput()
        let session = Session(plan: plan(mode: .offline, avatar: slow), makeOutput: { _, _, _ in output }, logger: Logger(label: "test"))
        send(tone, to: session)
        session.send(.close)
        try await Task.sleep(for: .milliseconds(300))
        session.send(.interrupt)
        let e = ended(await collect(session, within: .seconds(20)))
        #expect(e != nil, "\(output.video.count) frames pushed")
        #expect((e?.frames ?? 0) == output.video.count)
    }

    /// Skipping ahead under overload stops at the close frame: no video or audio beyond what was sent.
    @Test func overloadSkipStopsAtTheCloseFrame() async throws {
        var slow = EnvelopeAvatar()
        slow.renderDelay = 2.0
        let tone = try TestAudio.packets(TestAudio.segments([(0.4, 0.5)]))
        let output = RecordingOutput()
        let session = Session(plan: plan(mode: .live, avatar: slow, delayMs: 100), makeOutput: { _, _, _ in output },
                              logger: Logger(label: "test"))
        send(tone, to: session)
        session.send(.close)
        let e = ended(await collect(session, within: .seconds(30)))
        // 0.4 s = 10 frames (plus any idle frame before the first packet was decoded).
        #expect((10...11).contains(e?.frames ?? 0), "\(String(describing: e))")
        #expect(output.video.count == e?.frames)
    }

    @Test func lossesAndDuplicatesAreCountedNotFatal() async throws {
        let output = RecordingOutput()
        let session = Session(plan: plan(mode: .offline), makeOutput: { _, _, _ in output }, logger: Logger(label: "test"))
        let packets = try TestAudio.packets(TestAudio.segments([(1.0, 0.3)]))
        // Start near the seq wrap-around point and at a non-zero ts; drop two packets, repeat one, send garbage.
        let firstSeq = UInt32.max - 10
        for (i, p) in packets.enumerated() where i != 20 && i != 21 {
            session.audio(seq: firstSeq &+ UInt32(i), ts: 96_000 + UInt64(i) * 960, payload: p)
            if i == 30 { session.audio(seq: firstSeq &+ UInt32(i), ts: 96_000 + UInt64(i) * 960, payload: p) }
        }
        session.audio(seq: firstSeq &+ UInt32(packets.count), ts: 96_000 + UInt64(packets.count) * 960, payload: [0xFF, 0xFF, 0xFF])
        session.send(.close)
        let events = await collect(session)
        guard case .ended(let ended)? = events.first(where: { if case .ended = $0 { true } else { false } }) else {
            Issue.record("no session.ended: \(events)")
            return
        }
        #expect(ended.packetsLost == 3) // two gaps + one undecodable
        #expect(ended.frames == 26) // 1.02 s of timeline (incl. the concealed garbage packet) → 26 frames
    }

    @Test func nanMotionEndsTheSessionWithAnError() async throws {
        struct NaNAvatar: Avatar {
            var base = EnvelopeAvatar()
            var name: String { "nan" }
            var description: String { "" }
            var width: Int { 64 }
            var height: Int { 64 }
            var fps: Int { 25 }
            var styles: [String] { [] }
            var defaultStyle: String? { nil }
            var motionNames: [String] { ["jaw_open"] }
            var rendersVideo: Bool { true }
            func makeStages(options: SessionStageOptions) throws -> SessionStages {
                var s = try base.makeStages(options: options)
                s.motion = NaNMotion()
                return s
            }
        }
        final class NaNMotion: MotionStage {
            var dimension: Int { 1 }
            /// Rows not yet paired into a frame (the session may hand over one row at a time).
            var pendingRows = 0
            func append(_ features: FeatureRows) throws -> [MotionFrame] {
                pendingRows += features.count
                let frames = pendingRows / 2
                pendingRows %= 2
                return (0..<frames).map { MotionFrame(index: $0, coefficients: [.nan]) }
            }
            func flush() throws -> [MotionFrame] { [] }
            func interrupt(lastRendered: MotionFrame?) {}
        }
        let preset = OutputPreset(name: "test", mode: .offline, description: "", pipeline: "", options: [], origin: "test")
        let p = SessionPlan(sessionID: "nan", avatar: NaNAvatar(), stageOptions: SessionStageOptions(), preset: preset,
                            pipeline: "", outputFile: nil, outputDelayMs: 0, maxBufferSeconds: 10)
        let output = RecordingOutput()
        let session = Session(plan: p, makeOutput: { _, _, _ in output }, logger: Logger(label: "test"))
        send(try TestAudio.packets(TestAudio.segments([(0.5, 0.3)])), to: session)
        session.send(.close)
        let events = await collect(session)
        let failure = events.compactMap { if case .failed(let v) = $0 { v } else { nil } }.first
        #expect(failure?.kind == .internal)
        #expect(failure?.message.contains("NaN") == true)
        #expect(output.video.isEmpty)
        #expect(output.finished) // whatever was written is finalized
    }
}

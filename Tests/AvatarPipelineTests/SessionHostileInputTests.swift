import AvatarConfig
import AvatarPipeline
import AvatarProtocol
import AvatarStages
import AvatarTestSupport
import Foundation
import Logging
import Testing

/// Client numbers that used to trap or amplify: the session's arithmetic is total, and the silence a
/// client asks for with ts gaps counts against its buffer.
@Suite(.serialized, .timeLimit(.minutes(2))) struct SessionHostileInputTests {
    func plan(maxBuffer: Double = 10) -> SessionPlan {
        let preset = OutputPreset(name: "test", mode: .offline, description: "", pipeline: "", options: [], origin: "test")
        return SessionPlan(sessionID: UUID().uuidString, avatar: EnvelopeAvatar(), stageOptions: SessionStageOptions(), preset: preset,
                           pipeline: "", outputFile: nil, outputDelayMs: 0, maxBufferSeconds: maxBuffer)
    }

    func collect(_ session: Session) async -> [SessionEvent] {
        var events: [SessionEvent] = []
        for await e in session.events { events.append(e) }
        return events
    }

    @Test func maximalTsThenEndAndInterruptDoNotTrap() async throws {
        let session = Session(plan: plan(), makeOutput: { _, _, _ in RecordingOutput() }, logger: Logger(label: "test"))
        let packets = try TestAudio.packets(TestAudio.segments([(0.1, 0.3)]))
        session.audio(seq: 0, ts: UInt64.max, payload: packets[0])
        session.send(.end)
        session.send(.interrupt)
        session.audio(seq: 1, ts: 0, payload: packets[1])
        session.send(.close)
        let events = await collect(session)
        #expect(events.contains { if case .interrupted = $0 { true } else { false } }, "\(events)")
        #expect(events.contains { if case .ended = $0 { true } else { false } }, "\(events)")
    }

    @Test func tsGapsCountAgainstTheBuffer() {
        var cost = InboundAudioCost(maxGapSeconds: 1)
        #expect(cost.cost(ts: 0, duration48k: 960) == 960)
        // 60 s ahead: the gap counts, up to the maximum gap.
        #expect(cost.cost(ts: 48000 * 60, duration48k: 960) == 960 + 48000)
        // Contiguous: only the packet.
        #expect(cost.cost(ts: 48000 * 60 + 960, duration48k: 960) == 960)
        // Across the u64 wrap.
        var wrap = InboundAudioCost(maxGapSeconds: 1)
        _ = wrap.cost(ts: UInt64.max - 959, duration48k: 960)
        #expect(wrap.cost(ts: 960, duration48k: 960) == 960 + 960)
        // An unreadable TOC counts as the longest packet, so it cannot be free.
        #expect(wrap.cost(ts: 1920, duration48k: nil) == InboundAudioCost.unreadableDuration48k)
        // After an interrupt the next packet's gap is not audio.
        wrap.reset()
        #expect(wrap.cost(ts: 48000 * 600, duration48k: 960) == 960)
    }

    @Test func tsJumpsCannotAmplifyAFewPacketsIntoMinutesOfWork() async throws {
        // 20 packets, each 60 s after the last (the old amplification: 19 minutes of silence to render).
        let session = Session(plan: plan(maxBuffer: 1), makeOutput: { _, _, _ in RecordingOutput() }, logger: Logger(label: "test"))
        let packets = try TestAudio.packets(TestAudio.segments([(0.4, 0.3)]))
        for (i, p) in packets.enumerated() { session.audio(seq: UInt32(i), ts: UInt64(i) * 48000 * 60, payload: p) }
        // What the network side counted: never the 60 s jumps, at most max_buffer_seconds per packet.
        #expect(session.inbox.bufferedSamples <= packets.count * (48000 + 960))
        session.send(.close)
        let events = await collect(session)
        let ended = events.compactMap { if case .ended(let e) = $0 { e } else { nil } }.first
        // Each gap inserts at most max_buffer_seconds (1 s) of silence.
        #expect((ended?.frames ?? .max) <= (packets.count - 1) * 25 + packets.count + 1, "\(String(describing: ended))")
    }
}

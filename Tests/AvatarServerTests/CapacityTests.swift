import AvatarClient
import AvatarPipeline
import AvatarProtocol
import AvatarServer
import AvatarTestSupport
import Foundation
import Testing

/// Admission by measured device cost: sessions are admitted while their loads fit the budget.
@Suite(.serialized, .timeLimit(.minutes(2))) struct CapacityTests {
    @Test func loadsAddUpToTheBudget() throws {
        // 20 ms frames at 25 fps: half the device per session; 2 replicas with 20 % headroom: 1.6.
        let model = CapacityModel(frameCosts: ["a": (.milliseconds(20), 25), "b": (.milliseconds(8), 25)], replicas: 2, headroom: 0.2)
        #expect(abs(model.loadPerSession["a"]! - 0.5) < 1e-9 && abs(model.budget! - 1.6) < 1e-9)
        let registry = SessionRegistry(maxSessions: 10, capacity: model)
        #expect(registry.available == ["a": 3, "b": 8])
        let r1 = try registry.reserve(avatar: "a")
        let r2 = try registry.reserve(avatar: "a")
        let r3 = try registry.reserve(avatar: "a")
        #expect(registry.available == ["a": 0, "b": 0])
        #expect(registry.isFull)
        #expect(throws: SessionRegistry.Refusal.self) { try registry.reserve(avatar: "a") }
        registry.cancel(r3)
        #expect(registry.available == ["a": 1, "b": 3])
        _ = try registry.reserve(avatar: "b")
        registry.cancel(r1)
        registry.cancel(r2)
        #expect(!registry.isFull)
    }

    @Test func maxSessionsStaysAnUpperBound() throws {
        let registry = SessionRegistry(maxSessions: 2, capacity: CapacityModel(loadPerSession: ["a": 0.01], budget: 1))
        _ = try registry.reserve(avatar: "a")
        _ = try registry.reserve(avatar: "a")
        #expect(throws: SessionRegistry.Refusal.maxSessions(2)) { try registry.reserve(avatar: "a") }
    }

    @Test func anIdleDeviceTakesOneSessionHoweverExpensive() throws {
        let registry = SessionRegistry(maxSessions: 4, capacity: CapacityModel(loadPerSession: ["slow": 3], budget: 0.8))
        #expect(registry.available == ["slow": 1])
        _ = try registry.reserve(avatar: "slow")
        #expect(throws: SessionRegistry.Refusal.self) { try registry.reserve(avatar: "slow") }
    }

    @Test func theProbeMeasuresARealFrameCost() throws {
        let cost = try AvatarCostProbe.measure(EnvelopeAvatar(), warmFrames: 2, frames: 5)
        #expect(cost > .zero && cost < .seconds(1))
    }

    @Test func aSessionThatDoesNotFitGetsCapacityAndReadinessSaysSo() async throws {
        let daemon = try await TestDaemon.start(capacity: CapacityModel(loadPerSession: ["envelope": 0.7], budget: 1.0))
        let (_, before) = try await daemon.admin("/readyz")
        #expect(before.contains(#""sessions_available":{"envelope":1}"#), "\(before)")
        let packets = try TestAudio.packets(TestAudio.segments([(2.0, 0.3)])).map { ClientPacket(data: $0, duration48k: 960) }
        let first = Task {
            try await StreamingClient(url: daemon.url, logger: .init(label: "t")).run(
                start: SessionStart(avatar: "envelope", output: "file-mp4"), packets: packets, pacing: .realtime)
        }
        while daemon.server.registry.activeCount == 0 { try await Task.sleep(for: .milliseconds(20)) }
        let (status, body) = try await daemon.admin("/readyz")
        #expect(status == 503 && body.contains("at capacity") && body.contains(#""envelope":0"#), "\(body)")
        let (_, metrics) = try await daemon.admin("/metrics")
        #expect(metrics.contains(#"avatard_capacity_sessions_available{avatar="envelope"} 0"#), "\(metrics.split(separator: "\n").filter { $0.contains("capacity") })")
        let second = try await RawClient.exchange(daemon.url, frames: [.text(ProtocolViolationTests.start())], waitForClose: .seconds(2))
        #expect(second.errorCode == .capacity)
        #expect(second.errorMessage?.contains("device is at capacity") == true, "\(String(describing: second.errorMessage))")
        #expect(try await first.value.closeCode == 1000)
        await daemon.stop()
    }
}

import AvatarClient
import AvatarMedia
import AvatarProtocol
import AvatarTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The real `avatard serve` process: what SIGTERM does to it and what it logs.
@Suite(.serialized, .timeLimit(.minutes(3))) struct DaemonShutdownTests {
    static func packets(seconds: Double) throws -> [ClientPacket] {
        try TestAudio.packets(TestAudio.segments([(seconds, 0.3)])).map { ClientPacket(data: $0, duration48k: 960) }
    }

    /// SIGTERM with a session running, an idle admin keep-alive connection and a half-sent request: the
    /// session ends with going_away after its file is finalized, the process exits 0 within the drain
    /// timeout, and nothing is logged at error level (Hummingbird's "Server shutdown error", "Waiting on
    /// child channel" lines included).
    @Test func sigtermLogsNoErrors() async throws {
        let daemon = try DaemonProcess(limits: ["drain_timeout_seconds = 20", "header_timeout_seconds = 30"])
        try await daemon.waitReady()
        #expect(try await daemon.admin("/livez").0 == 200)
        let half = try RawSocket(port: daemon.port)
        half.send("GET /v1/session HTTP/1.1\r\nHost: x\r\n")
        let session = Task {
            try await StreamingClient(url: daemon.url, logger: .init(label: "t")).run(
                start: SessionStart(avatar: "demo", output: "file-mp4"), packets: try Self.packets(seconds: 4), pacing: .realtime)
        }
        // The session is running: /readyz reports it.
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, !(try await daemon.admin("/readyz").1.contains(#""sessions_active":1"#)) {
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .milliseconds(500))
        let t0 = ContinuousClock.now
        daemon.terminate()
        let result = try await session.value
        #expect(result.closeCode == 1001, "\(String(describing: result.closeCode)) \(result.messages)\n\(daemon.log)")
        let status = try await daemon.waitExit(timeout: .seconds(30))
        #expect(status == 0, "exit status \(String(describing: status)):\n\(daemon.log)")
        #expect(daemon.errorLines.isEmpty, "error-level lines on a normal shutdown:\n\(daemon.errorLines.joined(separator: "\n"))")
        #expect(daemon.log.contains("draining sessions"), "\(daemon.log)")
        for file in daemon.files() {
            #expect(try MediaProbe(path: file).frames.count >= 10, "\(file) plays")
        }
        // The half-sent request does not hold the shutdown until its header timeout (30 s).
        #expect(ContinuousClock.now - t0 < .seconds(20), "SIGTERM to exit: \(ContinuousClock.now - t0)")
        _ = half
    }
}

/// Slowloris against the real binary at the descriptor budget docs/operations.md gives
/// (64 + 8 × max_sessions + max_pending_connections), enforced with `prlimit --nofile`.
@Suite(.serialized, .timeLimit(.minutes(3))) struct SlowlorisProcessTests {
    @Test func halfSentRequestsBeyondTheDescriptorBudget() async throws {
        let maxSessions = 1, maxPending = 16, headerTimeout = 10
        let budget = 64 + 8 * maxSessions + maxPending
        let daemon = try DaemonProcess(limits: ["max_sessions = \(maxSessions)", "max_pending_connections = \(maxPending)",
                                                "header_timeout_seconds = \(headerTimeout)", "capacity_headroom = 1"],
                                       maxOpenFiles: budget)
        try await daemon.waitReady()
        // Three times the whole descriptor budget in connections that send half a request and then wait.
        let port = daemon.port
        let slow = try await HostileClientTests.blocking { () -> [RawSocket] in
            try (0..<(3 * budget)).map { _ in
                let s = try RawSocket(port: port)
                s.send("GET /v1/session HTTP/1.1\r\nHost: x\r\n")
                return s
            }
        }
        let flooded = ContinuousClock.now
        try await Task.sleep(for: .milliseconds(300))
        #expect(daemon.openFiles <= budget)
        // The admin listener answers, and a legitimate session runs (well within the header timeout).
        #expect(try await daemon.admin("/livez", timeout: 3).0 == 200)
        let packets = try DaemonShutdownTests.packets(seconds: 1)
        let result = try await StreamingClient(url: daemon.url, logger: .init(label: "t")).run(
            start: SessionStart(avatar: "demo", output: "file-mp4"), packets: packets, pacing: .fast)
        #expect(result.closeCode == 1000, "\(result.messages)\n\(daemon.log)")
        #expect(ContinuousClock.now - flooded < .seconds(headerTimeout), "the session ran while the slow connections were open")
        // Every half-open connection is closed by the header timeout at the latest.
        let allClosed = try await HostileClientTests.blocking {
            slow.allSatisfy { $0.readAll(timeout: .seconds(Int64(headerTimeout) + 5)).closed }
        }
        #expect(allClosed)
        #expect(ContinuousClock.now - flooded < .seconds(Int64(headerTimeout) + 5))
        let (_, metrics) = try await daemon.admin("/metrics")
        #expect(DiskFullTests.counter(#"avatard_connections_refused_total{reason="pending_limit"}"#, in: metrics) >= Double(3 * budget - maxPending))
        #expect(DiskFullTests.counter(#"avatard_connections_refused_total{reason="header_timeout"}"#, in: metrics) >= 1)
        #expect(try await daemon.admin("/livez").0 == 200)
        #expect(!daemon.log.contains("Too many open files"), "\(daemon.log)")
        daemon.terminate()
        #expect(try await daemon.waitExit(timeout: .seconds(30)) == 0)
    }
}

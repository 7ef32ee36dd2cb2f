import AvatarClient
import AvatarMedia
import AvatarProtocol
import AvatarServer
import AvatarTestSupport
import Foundation
import Testing

/// docs/examples/haproxy.cfg in front of two daemons on loopback: sessions spread by readiness, one
/// instance drained (what SIGTERM does) finishes its session with going_away and a playable file, and
/// new sessions go to the other. Needs Debian's haproxy (installed by scripts/setup.sh).
@Suite(.serialized, .timeLimit(.minutes(3)),
       .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is not installed"))
struct ScaleOutTests {
    static let haproxyPath = "/usr/sbin/haproxy"

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                bind(fd, p, len)
                return getsockname(fd, p, &len)
            }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// The documented recipe with this test's ports and a faster health check.
    static func config(front: Int, daemons: [TestDaemon]) throws -> String {
        let root = TestDaemon.repositoryRoot
        var text = try String(contentsOf: root.appendingPathComponent("docs/examples/haproxy.cfg"), encoding: .utf8)
        text = text.replacing("bind 127.0.0.1:8000", with: "bind 127.0.0.1:\(front)")
        text = text.replacing("default-server inter 1s fall 1 rise 2", with: "default-server inter 100ms fall 1 rise 1")
        text = text.replacing("server gpu0 127.0.0.1:8080 check port 9090", with: "server gpu0 127.0.0.1:\(daemons[0].publicPort) check port \(daemons[0].adminPort)")
        text = text.replacing("server gpu1 127.0.0.1:8081 check port 9091", with: "server gpu1 127.0.0.1:\(daemons[1].publicPort) check port \(daemons[1].adminPort)")
        return text
    }

    static func files(_ daemon: TestDaemon) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: daemon.outputDirectory)) ?? []).filter { $0.hasSuffix(".mp4") }
    }

    @Test func sessionsSpreadDrainAndReroute() async throws {
        let daemons = [try await TestDaemon.start { $0.limits.maxSessions = 1 }, try await TestDaemon.start { $0.limits.maxSessions = 1 }]
        let front = try Self.freePort()
        let cfg = FileManager.default.temporaryDirectory.appendingPathComponent("haproxy-\(UUID().uuidString).cfg")
        try Self.config(front: front, daemons: daemons).write(to: cfg, atomically: true, encoding: .utf8)
        let haproxy = Process()
        haproxy.executableURL = URL(fileURLWithPath: Self.haproxyPath)
        haproxy.arguments = ["-db", "-f", cfg.path]
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("haproxy-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let logHandle = try FileHandle(forWritingTo: log)
        haproxy.standardOutput = logHandle
        haproxy.standardError = logHandle
        try haproxy.run()
        defer {
            haproxy.terminate()
            haproxy.waitUntilExit()
            try? FileManager.default.removeItem(at: cfg)
            try? FileManager.default.removeItem(at: log)
        }
        try await Task.sleep(for: .milliseconds(800)) // both servers checked up

        let url = "ws://127.0.0.1:\(front)/v1/session"
        let long = try TestAudio.packets(TestAudio.segments([(3.0, 0.3)])).map { ClientPacket(data: $0, duration48k: 960) }
        let short = try TestAudio.packets(TestAudio.segments([(0.6, 0.3)])).map { ClientPacket(data: $0, duration48k: 960) }
        func session(_ packets: [ClientPacket]) -> Task<ClientResult, any Error> {
            Task { try await StreamingClient(url: url, logger: .init(label: "lb")).run(
                start: SessionStart(avatar: "envelope", output: "file-mp4"), packets: packets, pacing: .realtime) }
        }
        // Two sessions: each instance holds one (a full instance is unready, so the second goes elsewhere).
        let first = session(long)
        let deadline = ContinuousClock.now + .seconds(10)
        while daemons.allSatisfy({ $0.server.registry.activeCount == 0 }), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        try #require(daemons.contains { $0.server.registry.activeCount == 1 }, "no session reached a daemon through haproxy")
        try await Task.sleep(for: .milliseconds(400))
        let second = session(long)
        try await Task.sleep(for: .milliseconds(600))
        #expect(daemons.map { $0.server.registry.activeCount } == [1, 1], "sessions spread")

        // Drain the first instance (SIGTERM's drain): unready at once, its session ends going_away, file finalized.
        let drained = daemons.firstIndex { $0.server.registry.activeCount == 1 } ?? 0
        let other = 1 - drained
        #expect(await daemons[drained].server.registry.drain(timeout: .seconds(20)))
        let (status, _) = try await daemons[drained].admin("/readyz")
        #expect(status == 503)
        let results = [try await first.value, try await second.value]
        #expect(results.map(\.closeCode).sorted { ($0 ?? 0) < ($1 ?? 0) } == [1000, 1001], "\(results.map(\.closeCode))")
        for name in Self.files(daemons[drained]) {
            let probe = try MediaProbe(path: (daemons[drained].outputDirectory as NSString).appendingPathComponent(name))
            #expect(probe.frames.count >= 10, "the drained session's file plays")
        }

        // New sessions go to the remaining instance.
        try await Task.sleep(for: .milliseconds(400))
        let before = Self.files(daemons[other]).count
        let third = try await session(short).value
        #expect(third.closeCode == 1000)
        #expect(Self.files(daemons[other]).count == before + 1)
        for d in daemons { await d.stop() }
    }
}

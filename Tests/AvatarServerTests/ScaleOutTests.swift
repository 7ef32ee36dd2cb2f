import AvatarClient
import AvatarMedia
import AvatarProtocol
import AvatarServer
import AvatarTestSupport
import Foundation
import Testing

/// docs/examples/haproxy.cfg (Debian's haproxy) in front of two real `avatard serve` processes on loopback:
/// sessions spread by readiness, one instance drained with SIGTERM (unready at once, its session ends with
/// going_away and a playable file, the process exits 0 without error lines), and new sessions go to the
/// other. Needs haproxy (installed by scripts/setup.sh deps).
@Suite(.serialized, .timeLimit(.minutes(3)),
       .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is not installed"))
struct ScaleOutTests {
    static let haproxyPath = "/usr/sbin/haproxy"

    /// The documented recipe with this test's ports and a faster health check.
    static func config(front: Int, daemons: [DaemonProcess]) throws -> String {
        let root = TestDaemon.repositoryRoot
        var text = try String(contentsOf: root.appendingPathComponent("docs/examples/haproxy.cfg"), encoding: .utf8)
        func replace(_ a: String, _ b: String) throws {
            guard text.contains(a) else { throw DaemonProcessError("docs/examples/haproxy.cfg no longer contains '\(a)'") }
            text = text.replacing(a, with: b)
        }
        try replace("bind 127.0.0.1:8000", "bind 127.0.0.1:\(front)")
        try replace("default-server inter 1s fall 1 rise 2", "default-server inter 100ms fall 1 rise 1")
        try replace("server gpu0 127.0.0.1:8080 check port 9090", "server gpu0 127.0.0.1:\(daemons[0].port) check port \(daemons[0].adminPort)")
        try replace("server gpu1 127.0.0.1:8081 check port 9091", "server gpu1 127.0.0.1:\(daemons[1].port) check port \(daemons[1].adminPort)")
        return text
    }

    static func active(_ daemon: DaemonProcess) async -> Int? {
        guard let (_, body) = try? await daemon.admin("/readyz", timeout: 2),
              let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else { return nil }
        return object["sessions_active"] as? Int
    }

    @Test func sessionsSpreadSigtermDrainsAndReroutes() async throws {
        // One session slot each: a busy instance is unready, so the balancer sends the next session elsewhere.
        let limits = ["max_sessions = 1", "capacity_headroom = 1", "drain_timeout_seconds = 20"]
        let daemons = [try DaemonProcess(limits: limits), try DaemonProcess(limits: limits)]
        for d in daemons { try await d.waitReady() }
        let front = DaemonProcess.freePorts(1)[0]
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
        let long = try DaemonShutdownTests.packets(seconds: 10)
        let short = try DaemonShutdownTests.packets(seconds: 0.6)
        func session(_ packets: [ClientPacket]) -> Task<ClientResult, any Error> {
            Task { try await StreamingClient(url: url, logger: .init(label: "lb")).run(
                start: SessionStart(avatar: "demo", output: "file-mp4"), packets: packets, pacing: .realtime) }
        }
        func counts() async -> [Int?] { [await Self.active(daemons[0]), await Self.active(daemons[1])] }
        func waitFor(_ want: @escaping ([Int?]) -> Bool, _ what: String) async throws {
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                if want(await counts()) { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            Issue.record("\(what): \(await counts())")
        }
        // Two sessions through the balancer: one on each instance.
        let first = session(long)
        try await waitFor({ $0.contains(1) }, "no session reached a daemon through haproxy")
        let other = try #require(await counts().firstIndex(of: 1)), drained = 1 - other
        try await Task.sleep(for: .milliseconds(400)) // the busy instance is seen unready
        let second = session(long)
        try await waitFor({ $0 == [1, 1] }, "sessions not spread")

        // SIGTERM the instance that took the second session, well before its audio ends.
        try await Task.sleep(for: .milliseconds(500))
        daemons[drained].terminate()
        try await Task.sleep(for: .milliseconds(200))
        let (status, body) = try await daemons[drained].admin("/readyz")
        #expect(status == 503)
        #expect(body.contains("draining"), "\(body)")
        let (kept, goingAway) = (try await first.value, try await second.value)
        #expect(goingAway.closeCode == 1001, "\(String(describing: goingAway.closeCode)) \(goingAway.messages)\n\(daemons[drained].log)")
        #expect(kept.closeCode == 1000, "\(String(describing: kept.closeCode)) \(kept.messages)\n\(daemons[other].log)")
        #expect(try await daemons[drained].waitExit(timeout: .seconds(30)) == 0, "\(daemons[drained].log)")
        #expect(daemons[drained].errorLines.isEmpty, "\(daemons[drained].errorLines)")
        let drainedFiles = daemons[drained].files()
        #expect(drainedFiles.count == 1)
        for file in drainedFiles {
            #expect(try MediaProbe(path: file).frames.count >= 10, "the drained session's file plays")
        }

        // New sessions go to the remaining instance.
        try await waitFor({ $0[other] == 0 }, "the remaining instance's session did not end")
        try await Task.sleep(for: .milliseconds(400))
        let before = daemons[other].files().count
        let third = try await session(short).value
        #expect(third.closeCode == 1000, "\(third.messages)")
        #expect(daemons[other].files().count == before + 1)
        for file in daemons[other].files() {
            #expect(try MediaProbe(path: file).frames.count >= 10)
        }
        daemons[other].terminate()
        #expect(try await daemons[other].waitExit(timeout: .seconds(30)) == 0)
    }
}

import AvatarClient
import AvatarProtocol
import AvatarTestSupport
import Foundation
import Testing

/// Every malformed input of protocol v1 gets the spec's `error` code and close code, and the daemon
/// keeps serving other sessions meanwhile.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ProtocolViolationTests {
    static func start(avatar: String = "envelope", output: String = "file-mp4", style: String? = nil,
                      audio: String = #"{"codec":"opus","sample_rate":48000,"channels":1}"#, options: String? = nil) -> String {
        var s = #"{"type":"session.start","avatar":"\#(avatar)","output":"\#(output)","audio":\#(audio)"#
        if let style { s += #","style":"\#(style)""# }
        if let options { s += #","output_options":\#(options)"# }
        return s + "}"
    }

    static func audioFrame(seq: UInt32 = 0, ts: UInt64 = 0) throws -> [UInt8] {
        let packet = try TestAudio.packets(TestAudio.segments([(0.02, 0.2)]))[0]
        return AudioPacketHeader(seq: seq, ts: ts).frame(payload: packet)
    }

    static let cases: [(String, [RawClient.Frame], CloseCode)] = {
        let header: [UInt8] = [0x41, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xF8]
        var badMagic = header; badMagic[0] = 0x42
        var badVersion = header; badVersion[1] = 0x02
        var badFlags = header; badFlags[3] = 0x01
        return [
            ("bad JSON", [.text("{nope")], .protocol),
            ("unknown type", [.text(#"{"type":"dance"}"#)], .protocol),
            ("binary before start", [.binary(header)], .protocol),
            ("bad magic", [.text(start()), .binary(badMagic)], .protocol),
            ("bad version", [.text(start()), .binary(badVersion)], .protocol),
            ("bad flags", [.text(start()), .binary(badFlags)], .protocol),
            ("oversized binary", [.text(start()), .binary(header + [UInt8](repeating: 0, count: 5000))], .tooBig),
            ("oversized text", [.text(#"{"type":"keepalive","x":""# + String(repeating: "a", count: 70_000) + #""}"#)], .tooBig),
            ("second start", [.text(start()), .text(start())], .protocol),
            ("unknown avatar", [.text(start(avatar: "nobody"))], .unknownAvatar),
            ("unknown style", [.text(start(style: "grumpy"))], .unknownAvatar),
            ("unknown output", [.text(start(output: "carrier-pigeon"))], .unknownOutput),
            ("unsupported codec", [.text(start(audio: #"{"codec":"pcm","sample_rate":48000,"channels":1}"#))], .unsupported),
            ("unsupported rate", [.text(start(audio: #"{"codec":"opus","sample_rate":44100,"channels":1}"#))], .unsupported),
            ("unsupported channels", [.text(start(audio: #"{"codec":"opus","sample_rate":48000,"channels":2}"#))], .unsupported),
            ("bad option value", [.text(start(options: #"{"bitrate_kbps":1}"#))], .unsupported),
            ("operator-only option", [.text(start(output: "rtp-h264", options: #"{"host":"10.0.0.1"}"#))], .unsupported),
            ("unknown option", [.text(start(options: #"{"colour":"red"}"#))], .unsupported),
        ]
    }()

    @Test func everyViolationGetsItsErrorAndCloseCode() async throws {
        // Sessions that were rejected mid-way still hold their slot until their output is finalized, so the
        // cases below (which follow each other quickly) get room for that.
        let daemon = try await TestDaemon.start { $0.limits.maxSessions = 64 }
        // A well-behaved session runs alongside all the bad ones and must end normally.
        let packets = try TestAudio.packets(TestAudio.segments([(3.0, 0.3)])).map { ClientPacket(data: $0, duration48k: 960) }
        let good = Task {
            try await StreamingClient(url: daemon.url, logger: .init(label: "good")).run(
                start: SessionStart(avatar: "envelope", output: "file-mp4"), packets: packets, pacing: .realtime)
        }
        for (name, frames, code) in Self.cases {
            let outcome = try await RawClient.exchange(daemon.url, frames: frames)
            #expect(outcome.errorCode == code, "\(name): \(outcome.messages)")
            #expect(outcome.closeCode == code.rawValue, "\(name): close \(String(describing: outcome.closeCode))")
        }
        let result = try await good.value
        #expect(result.closeCode == 1000)
        #expect(result.ended?.frames == 75)
        await daemon.stop()
    }

    @Test func authenticationAndSubprotocolAreCheckedBeforeTheUpgrade() async throws {
        let daemon = try await TestDaemon.start { $0.tokens = ["s3cret"] }
        let port = daemon.publicPort
        #expect(try RawClient.upgradeStatus(port: port, path: "/v1/session", headers: [:]) == 401)
        #expect(try RawClient.upgradeStatus(port: port, path: "/v1/session", headers: ["Authorization": "Bearer wrong"]) == 401)
        #expect(try RawClient.upgradeStatus(port: port, path: "/v1/session", headers: ["Authorization": "Bearer s3cret"]) == 101)
        #expect(try RawClient.upgradeStatus(port: port, path: "/v1/session?token=s3cret", headers: [:]) == 101)
        #expect(try RawClient.upgradeStatus(port: port, path: "/v1/session?token=s3cret",
                                            headers: ["Sec-WebSocket-Protocol": "chat, superchat"]) == 400)
        #expect(try RawClient.upgradeStatus(port: port, path: "/v1/session?token=s3cret",
                                            headers: ["Sec-WebSocket-Protocol": "chat, avatard.v1"]) == 101)
        #expect(try RawClient.upgradeStatus(port: port, path: "/elsewhere", headers: [:]) == 404)
        await daemon.stop()
    }

    @Test func capacityIsEnforced() async throws {
        let daemon = try await TestDaemon.start { $0.limits.maxSessions = 1 }
        let first = Task {
            try await RawClient.exchange(daemon.url, frames: [.text(Self.start()), .pause(.seconds(2)), .text(#"{"type":"session.close"}"#)])
        }
        try await Task.sleep(for: .milliseconds(500))
        let second = try await RawClient.exchange(daemon.url, frames: [.text(Self.start())])
        #expect(second.errorCode == .capacity)
        #expect(second.closeCode == 4002)
        let firstOutcome = try await first.value
        #expect(firstOutcome.closeCode == 1000)
        // The slot is free again.
        let third = try await RawClient.exchange(daemon.url, frames: [.text(Self.start()), .text(#"{"type":"session.close"}"#)])
        #expect(third.closeCode == 1000)
        await daemon.stop()
    }

    @Test func idleSessionsTimeOut() async throws {
        let daemon = try await TestDaemon.start { $0.limits.idleTimeoutSeconds = 1 }
        let clock = ContinuousClock()
        let t0 = clock.now
        let outcome = try await RawClient.exchange(daemon.url, frames: [.text(Self.start())])
        #expect(outcome.errorCode == .idleTimeout)
        #expect(outcome.closeCode == 4003)
        #expect(clock.now - t0 < .seconds(8))
        // Keepalives hold the session open past the timeout.
        let kept = try await RawClient.exchange(daemon.url, frames: [
            .text(Self.start()), .pause(.milliseconds(600)), .text(#"{"type":"keepalive"}"#),
            .pause(.milliseconds(600)), .text(#"{"type":"keepalive"}"#), .pause(.milliseconds(600)),
            .text(#"{"type":"session.close"}"#),
        ])
        #expect(kept.closeCode == 1000)
        await daemon.stop()
    }

    @Test func garbageOpusIsCountedAndTheSessionContinues() async throws {
        let daemon = try await TestDaemon.start()
        var frames: [RawClient.Frame] = [.text(Self.start())]
        let packets = try TestAudio.packets(TestAudio.segments([(1.0, 0.3)]))
        for (i, p) in packets.enumerated() {
            let payload = i % 10 == 5 ? [0x0B, 0x00] : p
            frames.append(.binary(AudioPacketHeader(seq: UInt32(i), ts: UInt64(i * 960)).frame(payload: payload)))
        }
        frames.append(.text(#"{"type":"session.close"}"#))
        let outcome = try await RawClient.exchange(daemon.url, frames: frames)
        #expect(outcome.closeCode == 1000)
        let ended = outcome.messages.compactMap { if case .sessionEnded(let e) = $0 { e } else { nil } }.first
        #expect(ended?.packetsLost == 5)
        #expect(ended?.frames == 25)
        await daemon.stop()
    }

    @Test func anUnwritableOutputFailsOnlyThatSession() async throws {
        let daemon = try await TestDaemon.start { $0.outputDirectory = "/proc/avatard-cannot-write-here" }
        let outcome = try await RawClient.exchange(daemon.url, frames: [.text(Self.start())])
        #expect(outcome.errorCode == .outputFailed, "\(outcome.messages)")
        #expect(outcome.closeCode == 4004)
        // The daemon still serves.
        let (status, _) = try await daemon.admin("/livez")
        #expect(status == 200)
        await daemon.stop()
    }
}

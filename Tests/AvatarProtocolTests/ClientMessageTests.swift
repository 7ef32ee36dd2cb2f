import AvatarProtocol
import Foundation
import Testing

@Suite struct ClientMessageTests {
    @Test func parsesSessionStart() throws {
        let text = #"{"type":"session.start","avatar":"demo","output":"file-mp4","audio":{"codec":"opus","sample_rate":48000,"channels":1},"style":"calm","output_options":{"bitrate_kbps":900,"x":"y"}}"#
        guard case .sessionStart(let start) = try ClientMessage.parse(text) else {
            Issue.record("not a session.start")
            return
        }
        #expect(start.avatar == "demo")
        #expect(start.output == "file-mp4")
        #expect(start.style == "calm")
        #expect(start.outputOptions?["bitrate_kbps"] == .number(900))
        #expect(start.outputOptions?["bitrate_kbps"]?.description == "900")
        try start.validateAudio()
    }

    @Test func parsesControlMessages() throws {
        #expect(try ClientMessage.parse(#"{"type":"input.end"}"#) == .inputEnd)
        #expect(try ClientMessage.parse(#"{"type":"input.interrupt"}"#) == .inputInterrupt)
        #expect(try ClientMessage.parse(#"{"type":"keepalive"}"#) == .keepalive)
        #expect(try ClientMessage.parse(#"{"type":"session.close"}"#) == .sessionClose)
    }

    @Test(arguments: [
        ("{not json", CloseCode.protocol),
        ("[1,2]", .protocol),
        (#"{"kind":"x"}"#, .protocol),
        (#"{"type":"dance"}"#, .protocol),
        (#"{"type":"session.start","output":"file-mp4","audio":{"codec":"opus","sample_rate":48000,"channels":1}}"#, .protocol),
        (#"{"type":"session.start","avatar":5,"output":"x","audio":{"codec":"opus","sample_rate":48000,"channels":1}}"#, .protocol),
        // A nested option value is an unsupported option, not a malformed message.
        (#"{"type":"session.start","avatar":"a","output":"x","audio":{"codec":"opus","sample_rate":48000,"channels":1},"output_options":{"a":{"b":1}}}"#, .unsupported),
        (#"{"type":"session.start","avatar":"a","output":"x","audio":{"codec":"opus","sample_rate":48000,"channels":1},"output_options":{"a":[1]}}"#, .unsupported),
    ])
    func rejectsBadMessages(text: String, code: CloseCode) {
        do {
            _ = try ClientMessage.parse(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.code == code)
        }
    }

    @Test func rejectsOversizedText() {
        let text = #"{"type":"keepalive","pad":""# + String(repeating: "x", count: 70_000) + #""}"#
        do {
            _ = try ClientMessage.parse(text)
            Issue.record("accepted oversized text")
        } catch {
            #expect(error.code == .tooBig)
        }
    }

    @Test(arguments: [
        SessionStart.Audio(codec: "pcm", sampleRate: 48000, channels: 1),
        SessionStart.Audio(codec: "opus", sampleRate: 16000, channels: 1),
        SessionStart.Audio(codec: "opus", sampleRate: 48000, channels: 2),
    ])
    func unsupportedAudioParameters(audio: SessionStart.Audio) {
        let start = SessionStart(avatar: "a", output: "b", audio: audio)
        #expect {
            try start.validateAudio()
        } throws: { error in
            (error as? ProtocolViolation)?.code == .unsupported
        }
    }

    @Test func serverMessagesRoundTrip() {
        let messages: [ServerMessage] = [
            .sessionReady(sessionID: "abc", video: .init(width: 512, height: 512, fps: 25), output: "file-mp4", latencyMs: 300),
            .stats(.init(bufferedMs: 120, framesRendered: 50, framesDropped: 1, packetsLost: 2, latencyMsP50: 80.5, latencyMsP95: 120)),
            .inputInterrupted(lastRenderedTs: 96000),
            .sessionEnded(.init(frames: 100, durationMs: 4000, framesDropped: 0, packetsLost: 3)),
            .error(code: .idleTimeout, message: "bye"),
        ]
        for m in messages {
            #expect(ServerMessage.parse(m.json()) == m)
        }
        #expect(ServerMessage.error(code: .capacity, message: "x").json().contains(#""code":"capacity""#))
    }

    /// The close codes and names are exactly the table in docs/protocol.md (code, name), in both directions.
    @Test func closeCodesMatchTheProtocolDocument() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let doc = try String(contentsOf: root.appendingPathComponent("docs/protocol.md"), encoding: .utf8)
        var documented: [UInt16: String] = [:]
        for line in doc.split(separator: "\n") where line.hasPrefix("| ") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 2, let code = UInt16(cells[0]), cells[1].hasPrefix("`") else { continue }
            documented[code] = cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
        }
        #expect(documented.count == CloseCode.allCases.count, "\(documented)")
        for c in CloseCode.allCases {
            #expect(documented[c.rawValue] == c.name, "\(c)")
            #expect(CloseCode(name: c.name) == c)
        }
        #expect(!CloseCode.normal.needsErrorMessage && !CloseCode.goingAway.needsErrorMessage)
        #expect(CloseCode.allCases.filter(\.needsErrorMessage).count == CloseCode.allCases.count - 2)
    }
}

@Suite struct LogTextTests {
    @Test func controlCharactersAreEscapedAndLongTextIsCut() {
        #expect(LogText.escaped("a\u{1B}[31mb\u{0}c\nd") == #"a\u{1b}[31mb\u{0}c\u{a}d"#)
        let long = String(repeating: "x", count: 65_000)
        let out = LogText.escaped(long)
        #expect(out.count < 230 && out.hasSuffix("…(65000 bytes)"))
        #expect(LogText.escaped("plain ünïcode ✓") == "plain ünïcode ✓")
    }

    @Test func violationMessagesAreBounded() {
        let v = ProtocolViolation(.unknownAvatar, "no style clip '" + String(repeating: "\u{1B}", count: 70_000) + "'")
        #expect(v.message.utf8.count < 4 * ProtocolViolation.maxMessageLength)
        #expect(!v.message.contains("\u{1B}"))
    }
}

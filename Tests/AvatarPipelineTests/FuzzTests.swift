import AvatarConfig
import AvatarMedia
import AvatarPipeline
import AvatarProtocol
import AvatarStages
import AvatarTestSupport
import Foundation
import Logging
import Testing

/// Seeded, time-bounded fuzzing of everything a client or an operator feeds avatard (binary header, JSON
/// control messages, the Opus receiver and the session timeline under random seq/ts walks, the TOML
/// configuration). CI runs a few seconds of each; `scripts/fuzz.sh` runs them longer with other seeds.
/// A failure message names the seed and case: rerun with `AVATARD_FUZZ_SEED`.
@Suite(.serialized, .timeLimit(.minutes(3))) struct FuzzTests {
    static let packets: [[UInt8]] = (try? TestAudio.packets(TestAudio.segments([(0.5, 0.4), (0.5, 0)]))) ?? []

    @Test func binaryHeader() throws {
        let valid = AudioPacketHeader(seq: 7, ts: 9).frame(payload: Self.packets[3])
        let ran = Fuzz.run("header", iterations: 10_000) { i, r in
            let input = Int.random(in: 0..<4, using: &r) == 0 ? r.bytes(Int.random(in: 0...5000, using: &r)) : r.mutate(valid)
            do {
                let (header, payload) = try AudioPacketHeader.parse(input)
                #expect(header.frame(payload: payload) == input, "seed \(Fuzz.seed) case \(i)")
                #expect((1...AudioPacketHeader.maxOpusPacketBytes).contains(payload.count))
            } catch let error as ProtocolViolation {
                #expect(error.code == .protocol || error.code == .tooBig, "seed \(Fuzz.seed) case \(i): \(error)")
            } catch {
                Issue.record("seed \(Fuzz.seed) case \(i): \(error)")
            }
        }
        #expect(ran > 0)
    }

    @Test func controlMessages() throws {
        let seeds = [
            #"{"type":"session.start","avatar":"demo","output":"file-mp4","audio":{"codec":"opus","sample_rate":48000,"channels":1},"style":"calm","output_options":{"bitrate_kbps":900,"speed":"fast","x":true,"y":null}}"#,
            #"{"type":"input.end"}"#, #"{"type":"input.interrupt"}"#, #"{"type":"keepalive"}"#, #"{"type":"session.close"}"#,
        ].map { Array($0.utf8) }
        let allowed: Set<CloseCode> = [.protocol, .tooBig, .unsupported]
        Fuzz.run("control", iterations: 5_000) { i, r in
            var bytes = r.mutate(seeds.randomElement(using: &r)!)
            if Int.random(in: 0..<50, using: &r) == 0 {
                // Deep nesting and huge strings.
                let depth = Int.random(in: 100...20_000, using: &r)
                bytes = Array((#"{"type":"keepalive","x":"# + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}").utf8)
            }
            let text = String(decoding: bytes, as: UTF8.self)
            do {
                if case .sessionStart(let start) = try ClientMessage.parse(text) {
                    do { try start.validateAudio() } catch let error as ProtocolViolation {
                        #expect(allowed.contains(error.code), "seed \(Fuzz.seed) case \(i): \(error)")
                    } catch {
                        Issue.record("seed \(Fuzz.seed) case \(i): \(error)")
                    }
                    for value in (start.outputOptions ?? [:]).values { _ = value.description }
                }
            } catch let error as ProtocolViolation {
                #expect(allowed.contains(error.code), "seed \(Fuzz.seed) case \(i): \(error)")
                #expect(error.message.count <= ProtocolViolation.maxMessageLength + 32)
            } catch {
                Issue.record("seed \(Fuzz.seed) case \(i): \(error)")
            }
        }
    }

    /// One step of a hostile sender: mostly well-behaved, with duplicates, reordering, huge jumps both ways,
    /// wrap-around and garbage payloads.
    static func step(seq: inout UInt32, ts: inout UInt64, random r: inout Fuzz) -> [UInt8] {
        switch Int.random(in: 0..<20, using: &r) {
        case 0: break                                              // duplicate seq
        case 1: seq &-= UInt32.random(in: 1...100, using: &r)       // reordered / late
        case 2: seq &+= UInt32.random(in: 2...10, using: &r)        // loss
        case 3: seq = UInt32.random(in: 0...UInt32.max, using: &r)  // counter jump
        case 4: seq &+= 1 << 31
        default: seq &+= 1
        }
        switch Int.random(in: 0..<20, using: &r) {
        case 0: break
        case 1: ts &-= UInt64.random(in: 0...96_000, using: &r)
        case 2: ts &+= UInt64.random(in: 0...(48_000 * 120), using: &r)
        case 3: ts = r.edgyUInt64()
        case 4: ts &-= UInt64.random(in: 0...UInt64.max, using: &r)
        default: ts &+= 960
        }
        switch Int.random(in: 0..<20, using: &r) {
        case 0: return []
        case 1, 2: return r.bytes(Int.random(in: 1...300, using: &r))
        default: return packets.randomElement(using: &r)!
        }
    }

    @Test func opusReceiverRandomWalks() throws {
        Fuzz.run("receiver", iterations: 60) { i, r in
            let maxGap = Double.random(in: 0.05...20, using: &r)
            guard var rx = try? OpusPacketReceiver(maxGapSeconds: maxGap) else { return }
            var seq = UInt32.random(in: 0...UInt32.max, using: &r)
            var ts = r.edgyUInt64()
            // Output samples one packet may add at most: the gap, a 120 ms packet, nothing else.
            let bound = Int(rx.maxGap48k / 3) + 5760 / 3 + 1
            for _ in 0..<200 {
                if Int.random(in: 0..<50, using: &r) == 0 { rx.reset() }
                let payload = Self.step(seq: &seq, ts: &ts, random: &r)
                let before = rx.position
                let lostBefore = rx.packetsLost
                let res = rx.receive(seq: seq, ts: ts, payload: payload)
                #expect(rx.position == before + res.samples.count, "seed \(Fuzz.seed) case \(i)")
                #expect(res.position == before)
                #expect(res.samples.count <= bound, "seed \(Fuzz.seed) case \(i): \(res.samples.count) > \(bound)")
                #expect(rx.packetsLost - lostBefore <= rx.maxLostBurst + 1, "seed \(Fuzz.seed) case \(i)")
                #expect(res.samples.allSatisfy { $0.isFinite })
            }
        }
    }

    @Test func sessionTimelineRandomWalks() async throws {
        let count = Fuzz.iterations(default: 30)
        let deadline = ContinuousClock.now + Fuzz.timeBudget
        for i in 0..<count where ContinuousClock.now < deadline {
            var r = Fuzz(seed: Fuzz.seed &+ UInt64(i) &* 0x2545_F491_4F6C_DD1D)
            let maxBuffer = Double.random(in: 0.5...2, using: &r)
            let preset = OutputPreset(name: "t", mode: .offline, description: "", pipeline: "", options: [], origin: "t")
            let plan = SessionPlan(sessionID: "fuzz-\(i)", avatar: EnvelopeAvatar(), stageOptions: SessionStageOptions(), preset: preset,
                                   pipeline: "", outputFile: nil, outputDelayMs: 0, maxBufferSeconds: maxBuffer)
            let output = RecordingOutput()
            var logger = Logger(label: "fuzz")
            logger.logLevel = .warning
            let session = Session(plan: plan, makeOutput: { _, _, _ in output }, logger: logger)
            var seq = UInt32.random(in: 0...UInt32.max, using: &r)
            var ts = r.edgyUInt64()
            let n = 80
            for _ in 0..<n {
                switch Int.random(in: 0..<40, using: &r) {
                case 0: session.send(.end)
                case 1: session.send(.interrupt)
                default: break
                }
                session.audio(seq: seq, ts: ts, payload: Self.step(seq: &seq, ts: &ts, random: &r))
            }
            session.send(.close)
            var events: [SessionEvent] = []
            for await e in session.events { events.append(e) }
            let ended = events.compactMap { if case .ended(let e) = $0 { e } else { nil } }.first
            #expect(ended != nil, "seed \(Fuzz.seed) case \(i): \(events.suffix(3))")
            // Every packet adds at most max_buffer_seconds of gap and 120 ms of its own (+ one frame per input.end).
            let bound = Int((Double(n) * (maxBuffer + 0.12) * 25).rounded(.up)) + n + 2
            #expect((ended?.frames ?? 0) <= bound, "seed \(Fuzz.seed) case \(i): \(ended?.frames ?? -1) > \(bound)")
            #expect(output.video.count == ended?.frames)
        }
    }

    @Test func tomlConfiguration() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let example = (try? String(contentsOf: root.appendingPathComponent("systemd/avatard.example.toml"), encoding: .utf8)) ?? ""
        let preset = (try? String(contentsOf: root.appendingPathComponent("Pipelines/file-mp4.toml"), encoding: .utf8)) ?? ""
        let seeds = [example, preset, """
        [output.presets.x]
        mode = "live"
        pipeline = '''queue name=video ! fakesink queue name=audio ! fakesink'''
        options = { a = { type = "int", default = 1, min = 0, max = 2, client = true } }
        [[arr]]
        k = [1, 2.5, -0x10, 0o7, 0b1, inf, "s\\u00e9", 'lit', { i = true }]
        """].map { Array($0.utf8) }
        Fuzz.run("toml", iterations: 3_000) { i, r in
            let text = String(decoding: r.mutate(seeds.randomElement(using: &r)!, edits: Int.random(in: 1...20, using: &r)), as: UTF8.self)
            do {
                _ = try DaemonConfig.parse(text, file: "fuzz.toml")
            } catch let error as ConfigError {
                #expect(!error.message.isEmpty, "seed \(Fuzz.seed) case \(i)")
            } catch {
                Issue.record("seed \(Fuzz.seed) case \(i): \(error)")
            }
            // The same text as a Pipelines/*.toml preset file.
            if let table = try? TOMLParser.parse(text) {
                var reader = TableReader(table, file: "fuzz.toml")
                _ = try? OutputPreset.parse(&reader, name: "p", origin: "fuzz")
            }
        }
    }
}

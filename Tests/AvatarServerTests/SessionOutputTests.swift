import AvatarClient
import AvatarConfig
import AvatarMedia
import AvatarProtocol
import AvatarTestSupport
import Foundation
import Testing

/// Sessions through the real daemon and real GStreamer pipelines; outputs are checked by decoding them.
@Suite(.serialized, .timeLimit(.minutes(5))) struct SessionOutputTests {
    static func packets(_ parts: [(Double, Float)], frequency: Double = 220) throws -> [ClientPacket] {
        try TestAudio.packets(TestAudio.segments(parts.map { (seconds: $0.0, amplitude: $0.1) }, frequency: frequency))
            .map { ClientPacket(data: $0, duration48k: 960) }
    }

    /// Dominant frequency of a signal by zero crossings.
    static func frequency(_ x: ArraySlice<Float>) -> Double {
        var crossings = 0
        for (a, b) in zip(x, x.dropFirst()) where (a < 0) != (b < 0) { crossings += 1 }
        return Double(crossings) / 2 / (Double(x.count) / 16000)
    }

    /// Height of the white bar in the middle column of a decoded frame.
    static func bar(_ f: MediaProbe.Frame) -> Int {
        (0..<f.height).filter { f.luma[$0 * f.width + f.width / 2] > 180 }.count
    }

    @Test func fileOutputDecodesInSyncAndEachSessionGetsOnlyItsOwnAudio() async throws {
        let daemon = try await TestDaemon.start()
        let client = StreamingClient(url: daemon.url, logger: .init(label: "t"))
        // Two sessions at once: 220 Hz and 660 Hz, speech-like bursts with a pause in the middle.
        async let a = client.run(start: SessionStart(avatar: "envelope", output: "file-mp4"),
                                 packets: try Self.packets([(1.0, 0.5), (0.6, 0), (0.6, 0.5)], frequency: 220), pacing: .fast)
        async let b = client.run(start: SessionStart(avatar: "envelope", output: "file-mp4"),
                                 packets: try Self.packets([(1.0, 0.5), (0.6, 0), (0.6, 0.5)], frequency: 660), pacing: .fast)
        let results = try await [a, b]
        for (result, expected) in zip(results, [220.0, 660.0]) {
            #expect(result.closeCode == 1000)
            let ready = try #require(result.ready)
            #expect(ready.video == .init(width: 64, height: 64, fps: 25))
            #expect(result.ended?.frames == 55)
            let probe = try MediaProbe(path: daemon.file(for: ready.sessionID))
            // Streams, durations and sync: 55 frames at 40 ms, audio as long as the video within one frame.
            #expect(probe.frames.count == 55)
            #expect(probe.videoCaps.contains("width=(int)64"))
            #expect(abs(probe.audioDuration - 2.2) <= 0.04, "audio \(probe.audioDuration)")
            let audioStart = Double(probe.firstAudioPTS ?? 0) / 1e9
            let videoStart = Double(probe.frames[0].pts) / 1e9
            #expect(abs(audioStart - videoStart) <= 0.04)
            // Only its own audio: the decoded tone has this session's frequency.
            let measured = Self.frequency(probe.audio[4000..<12000])
            #expect(abs(measured - expected) < expected * 0.05)
            // A/V alignment from pixels: the bar is up during the first tone and down in the pause.
            let bars = probe.frames.map(Self.bar)
            #expect(bars[3..<22].allSatisfy { $0 > 10 }, "\(bars)")
            #expect(bars[29..<38].allSatisfy { $0 == 0 }, "\(bars)")
            // The onset of sound and the onset of the bar are within one frame.
            let audioOnset = probe.audio.firstIndex { abs($0) > 0.05 } ?? 0
            let barOnset = bars.firstIndex { $0 > 0 } ?? 0
            let onsetGap = abs(Double(audioOnset) / 16000 - Double(barOnset) * 0.04)
            #expect(onsetGap <= 0.04 + 1e-9, "audio onset \(audioOnset), bar onset frame \(barOnset)")
        }
        await daemon.stop()
    }

    @Test func aVanishedClientStillLeavesAPlayableFile() async throws {
        let daemon = try await TestDaemon.start()
        let client = StreamingClient(url: daemon.url, logger: .init(label: "t"))
        let result = try await client.run(start: SessionStart(avatar: "envelope", output: "file-mkv"),
                                          packets: try Self.packets([(1.2, 0.4)]), pacing: .fast, close: false,
                                          linger: .milliseconds(100))
        let id = try #require(result.ready?.sessionID)
        // Wait for the daemon to notice and finalize.
        var probe: MediaProbe?
        for _ in 0..<50 {
            try await Task.sleep(for: .milliseconds(200))
            if daemon.server.registry.activeCount == 0 { probe = try? MediaProbe(path: daemon.file(for: id, ext: "mkv")); break }
        }
        let p = try #require(probe)
        #expect(p.frames.count == 30)
        #expect(abs(p.audioDuration - 1.2) <= 0.04)
        await daemon.stop()
    }

    @Test func interruptOverTheWireClosesTheMouthAndReports() async throws {
        let daemon = try await TestDaemon.start()
        // Barge-in on a live output: 6 s of "TTS" tone delivered at once, interrupted after 1 s (later on a
        // loaded machine; the checks are relative to the reported cut), then 1 s of real-time silence.
        var frames: [RawClient.Frame] = [.text(ProtocolViolationTests.start(output: "rtp-vp8"))]
        let tone = try TestAudio.packets(TestAudio.segments([(6.0, 0.5)]))
        let quiet = try TestAudio.packets(TestAudio.segments([(1.0, 0)]))
        for (i, p) in tone.enumerated() {
            frames.append(.binary(AudioPacketHeader(seq: UInt32(i), ts: UInt64(i * 960)).frame(payload: p)))
        }
        frames.append(.pause(.seconds(1)))
        frames.append(.text(#"{"type":"input.interrupt"}"#))
        for (j, p) in quiet.enumerated() {
            let i = tone.count + j
            frames.append(.binary(AudioPacketHeader(seq: UInt32(i), ts: UInt64(i * 960)).frame(payload: p)))
            frames.append(.pause(.milliseconds(20)))
        }
        frames.append(.text(#"{"type":"session.close"}"#))
        let outcome = try await RawClient.exchange(daemon.url, frames: frames)
        #expect(outcome.closeCode == 1000)
        let interrupted = outcome.messages.compactMap { if case .inputInterrupted(let ts) = $0 { ts } else { nil } }
        #expect(interrupted.count == 1)
        let id = try #require(outcome.messages.compactMap { if case .sessionReady(let id, _, _, _) = $0 { id } else { nil } }.first)
        let motion = daemon.motionBox.frames(id).map { $0.coefficients[0] }
        // Far less than the 6 s of tone was rendered, and last_rendered_ts says where it stopped.
        let rendered = Double(interrupted.first ?? 0) / 48000
        #expect(rendered > 0.3 && rendered < 4.5, "last_rendered_ts \(rendered) s")
        #expect(motion.filter { $0 > 0.2 }.count <= Int(rendered * 25) + 5, "\(motion)")
        // Within 200 ms (5 frames) of stream time after the cut the mouth is closed, and stays closed.
        let cut = Int((rendered * 25).rounded(.up))
        #expect(motion.count > cut + 5)
        #expect(motion.dropFirst(cut + 5).allSatisfy { $0 < 0.05 }, "\(motion)")
        await daemon.stop()
    }

    @Test func rtpOutputIsReceivedByASecondPipeline() async throws {
        let port = Int.random(in: 20000...40000) & ~1
        let daemon = try await TestDaemon.start { config in
            let preset = PresetCatalog.load(directory: TestDaemon.repositoryRoot.appendingPathComponent("Pipelines").path,
                                            operatorPresets: [])["rtp-vp8"]!
            var p = preset
            p.options = p.options.map { o in
                var o = o
                switch o.name {
                case "video_port": o.defaultValue = String(port)
                case "video_rtcp_port": o.defaultValue = String(port + 1)
                case "audio_port": o.defaultValue = String(port + 2)
                case "audio_rtcp_port": o.defaultValue = String(port + 3)
                default: break
                }
                return o
            }
            config.presets = [p]
            config.outputDelayMs = 200
        }
        // Blocking GStreamer pulls run on their own thread, not on the cooperative pool.
        let receiver = Task {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Int, any Error>) in
                Thread { c.resume(with: Result { try RTPReceiver.countFrames(port: port, encoding: "VP8", seconds: 4) }) }.start()
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        let client = StreamingClient(url: daemon.url, logger: .init(label: "t"))
        let result = try await client.run(start: SessionStart(avatar: "envelope", output: "rtp-vp8"),
                                          packets: try Self.packets([(2.0, 0.5)]), pacing: .realtime)
        #expect(result.closeCode == 1000)
        let frames = try await receiver.value
        #expect(frames >= 30, "received \(frames) decoded frames")
        await daemon.stop()
    }

    @Test func drainOnShutdownFinalizesAndSaysGoingAway() async throws {
        let daemon = try await TestDaemon.start()
        let client = StreamingClient(url: daemon.url, logger: .init(label: "t"))
        let session = Task {
            try await client.run(start: SessionStart(avatar: "envelope", output: "file-mp4"),
                                 packets: try Self.packets([(3.0, 0.4)]), pacing: .realtime)
        }
        try await Task.sleep(for: .milliseconds(1200))
        #expect(await daemon.server.registry.drain(timeout: .seconds(30)))
        let result = try await session.value
        #expect(result.closeCode == 1001)
        #expect(result.errors.isEmpty)
        let id = try #require(result.ready?.sessionID)
        let probe = try MediaProbe(path: daemon.file(for: id))
        #expect(probe.frames.count >= 20)
        await daemon.stop()
    }

    @Test func adminEndpoints() async throws {
        let daemon = try await TestDaemon.start()
        let (ready, readyBody) = try await daemon.admin("/readyz")
        #expect(ready == 200, "\(readyBody)")
        let (status, body) = try await daemon.admin("/v1/avatars")
        #expect(status == 200)
        #expect(body.contains(#""name":"envelope""#) && body.contains(#""styles":["calm"]"#))
        let (_, metrics) = try await daemon.admin("/metrics")
        #expect(metrics.contains("avatard_sessions_active"))
        #expect(metrics.contains("process_resident_memory_bytes"))
        #expect(!metrics.contains("session_id"))
        await daemon.stop()
    }
}

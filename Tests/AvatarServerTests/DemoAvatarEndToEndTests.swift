import AvatarBundle
import AvatarClient
import AvatarMedia
import AvatarModels
import AvatarOperators
import AvatarProtocol
import AvatarStages
import AvatarTestSupport
import AvatarVulkan
import Foundation
import Testing

/// The shipped demo avatar through the real daemon: synthesized speech in (espeak-ng), Opus over WebSocket,
/// log-mel → ICS-A2M on Vulkan → rasterizer → x264 → MP4, and the file decoded. Mouth behaviour is read from
/// the motion stream (the `jaw_open` coefficient) and checked against the audio.
@Suite(.serialized, .timeLimit(.minutes(5))) struct DemoAvatarEndToEndTests {
    static let shared: Result<any Avatar, any Error> = Result {
        let context = try ComputeContext(requirement: DeviceRequirement(), cacheDirectory: nil)
        let directory = TestDaemon.repositoryRoot.appendingPathComponent("Avatars/demo")
        let bundle = try AvatarBundle(directory: directory, supportedKinds: ModelKind.supported)
        return try AvatarFactory.makeAvatar(bundle, context: context)
    }

    static func demo() throws -> any Avatar { try shared.get() }

    /// 16 kHz speech from espeak-ng followed by `silence` seconds of digital silence, and its 20 ms Opus packets.
    static func speech(_ text: String, silence: Double) throws -> (pcm16k: [Float], packets: [ClientPacket]) {
        let wav = FileManager.default.temporaryDirectory.appendingPathComponent("demo-e2e-\(UUID().uuidString).wav").path
        defer { try? FileManager.default.removeItem(atPath: wav) }
        let espeak = Process()
        espeak.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        espeak.arguments = ["espeak-ng", "-v", "en-us", "-s", "150", "-w", wav, text]
        try espeak.run()
        espeak.waitUntilExit()
        #expect(espeak.terminationStatus == 0, "espeak-ng must be installed (scripts/setup.sh installs it)")
        var pcm48 = try AudioFileReader.pcm(path: wav, rate: 48000)
        // Whole 20 ms packets, then the silence.
        pcm48 += [Float](repeating: 0, count: (960 - pcm48.count % 960) % 960 + Int(silence * 48000))
        let packets = try TestAudio.packets(pcm48).map { ClientPacket(data: $0, duration48k: 960) }
        let pcm16 = stride(from: 0, to: pcm48.count, by: 3).map { pcm48[$0] }
        return (pcm16, packets)
    }

    /// RMS of the audio over each 40 ms frame.
    static func envelope(_ pcm16k: [Float], frames: Int) -> [Double] {
        (0..<frames).map { k in
            let lo = min(k * 640, pcm16k.count), hi = min(lo + 640, pcm16k.count)
            guard hi > lo else { return 0 }
            return (pcm16k[lo..<hi].reduce(0.0) { $0 + Double($1) * Double($1) } / Double(hi - lo)).squareRoot()
        }
    }

    static func correlation(_ a: [Double], _ b: [Double]) -> Double {
        let n = min(a.count, b.count)
        guard n > 2 else { return 0 }
        let ma = a.prefix(n).reduce(0, +) / Double(n), mb = b.prefix(n).reduce(0, +) / Double(n)
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for i in 0..<n {
            sab += (a[i] - ma) * (b[i] - mb)
            saa += (a[i] - ma) * (a[i] - ma)
            sbb += (b[i] - mb) * (b[i] - mb)
        }
        return saa > 0 && sbb > 0 ? sab / (saa * sbb).squareRoot() : 0
    }

    static func jawIndex(_ avatar: any Avatar) throws -> Int {
        try #require(avatar.motionNames.firstIndex(of: "jaw_open"), "demo motion names: \(avatar.motionNames)")
    }

    /// Below this the lips are together (the head's jaw_open of 1 is a wide-open mouth).
    static let closedJaw: Float = 0.12

    @Test func speechInTalkingFaceOutInSyncAndClosedInSilence() async throws {
        let avatar = try Self.demo()
        let jaw = try Self.jawIndex(avatar)
        let daemon = try await TestDaemon.start(avatars: [avatar])
        let (pcm, packets) = try Self.speech("Hello there! My mouth opens on vowels, and it closes at the end.", silence: 1.2)
        let client = StreamingClient(url: daemon.url, logger: .init(label: "t"))
        let result = try await client.run(start: SessionStart(avatar: "demo", output: "file-mp4"), packets: packets, pacing: .fast)
        #expect(result.closeCode == 1000, "\(result.errors)")
        let ready = try #require(result.ready)
        let frames = Int((Double(packets.count) * 0.02 * 25).rounded(.up))
        #expect(result.ended?.frames == frames)

        // The file decodes, has every frame, and audio and video start together (≤ 1 frame).
        let probe = try MediaProbe(path: daemon.file(for: ready.sessionID))
        #expect(probe.frames.count == frames)
        #expect(probe.frames.first?.width == avatar.width && probe.frames.first?.height == avatar.height)
        let audioStart = Double(probe.firstAudioPTS ?? 0) / 1e9, videoStart = Double(probe.frames.first?.pts ?? 0) / 1e9
        #expect(abs(audioStart - videoStart) <= 0.04)
        #expect(abs(probe.audioDuration - Double(packets.count) * 0.02) <= 0.04)

        // Mouth opening follows the speech envelope; the best lag is within one frame.
        let motion = daemon.motionBox.frames(ready.sessionID)
        #expect(motion.count == frames)
        let opening = motion.map { Double($0.coefficients[jaw]) }
        let envelope = Self.envelope(pcm, frames: frames)
        let lags = (-3...3).map { lag -> (Int, Double) in
            let a = Array(opening.dropFirst(max(lag, 0))), b = Array(envelope.dropFirst(max(-lag, 0)))
            return (lag, Self.correlation(a, b))
        }
        let best = lags.max { $0.1 < $1.1 }!
        #expect(abs(best.0) <= 1, "correlation by lag: \(lags)")
        #expect(best.1 > 0.4, "correlation by lag: \(lags)")

        // Silence: from 200 ms after the last speech the mouth is closed.
        let lastLoud = envelope.lastIndex { $0 > 0.01 } ?? 0
        let tail = opening.dropFirst(lastLoud + 6)
        #expect(!tail.isEmpty && tail.allSatisfy { $0 < Double(Self.closedJaw) }, "after speech: \(Array(tail))")
        await daemon.stop()
    }

    @Test func silenceIsAClosedButLivingFace() async throws {
        let avatar = try Self.demo()
        let jaw = try Self.jawIndex(avatar)
        let daemon = try await TestDaemon.start(avatars: [avatar])
        let quiet = try TestAudio.packets(TestAudio.segments([(3.0, 0)])).map { ClientPacket(data: $0, duration48k: 960) }
        let client = StreamingClient(url: daemon.url, logger: .init(label: "t"))
        let result = try await client.run(start: SessionStart(avatar: "demo", output: "file-mkv"), packets: quiet, pacing: .fast)
        #expect(result.closeCode == 1000)
        let id = try #require(result.ready?.sessionID)
        let motion = daemon.motionBox.frames(id)
        #expect(motion.count == 75)
        #expect(motion.allSatisfy { $0.coefficients[jaw] < Self.closedJaw }, "\(motion.map { $0.coefficients[jaw] })")
        // Not a frozen face: the coefficients keep moving a little (idle motion from the model).
        let spread = (0..<avatar.motionNames.count).map { d -> Float in
            let v = motion.map { $0.coefficients[d] }
            return (v.max() ?? 0) - (v.min() ?? 0)
        }.max() ?? 0
        #expect(spread > 0.01, "idle motion spread \(spread)")
        await daemon.stop()
    }

    @Test func interruptClosesTheMouthWithin200ms() async throws {
        let avatar = try Self.demo()
        let jaw = try Self.jawIndex(avatar)
        let daemon = try await TestDaemon.start(avatars: [avatar])
        let (_, talk) = try Self.speech("We keep talking and talking, on and on, about many many things.", silence: 0)
        let quiet = try TestAudio.packets(TestAudio.segments([(1.0, 0)])).map { ClientPacket(data: $0, duration48k: 960) }
        // The speech arrives at once (a TTS burst) and the interrupt right after it, then silence. The file
        // output renders as fast as the device allows, a few frames per turn, so the cut lands part way
        // through the speech on any machine that does not render it in 300 ms; the checks are relative to
        // the reported cut either way.
        let client = StreamingClient(url: daemon.url, logger: .init(label: "t"))
        let result = try await client.run(
            start: SessionStart(avatar: "demo", output: "file-mkv"), packets: talk + quiet, pacing: .fast,
            actions: [.init(beforePacket: talk.count, kind: .pause(.milliseconds(300))),
                      .init(beforePacket: talk.count, kind: .interrupt)])
        #expect(result.closeCode == 1000)
        let id = try #require(result.ready?.sessionID)
        let interrupted = result.messages.compactMap { if case .inputInterrupted(let ts) = $0 { ts } else { nil } }
        let cutSeconds = Double(try #require(interrupted.first)) / 48000
        let cut = Int((cutSeconds * 25).rounded(.up))
        let opening = daemon.motionBox.frames(id).map { $0.coefficients[jaw] }
        #expect(opening.count > cut + 5)
        #expect(opening.dropFirst(cut + 5).allSatisfy { $0 < Self.closedJaw }, "cut at frame \(cut): \(opening)")
        await daemon.stop()
    }
}

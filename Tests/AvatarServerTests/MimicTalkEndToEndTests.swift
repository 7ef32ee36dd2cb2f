import AvatarBundle
import AvatarClient
import AvatarConfig
import AvatarFormats
import AvatarMedia
import AvatarModels
import AvatarOperators
import AvatarProtocol
import AvatarStages
import AvatarTestSupport
import AvatarVulkan
import AvatarPipeline
import Foundation
import Synchronization
import Testing

/// A MimicTalk avatar through the real daemon: the small synthetic bundle `convert.py mimictalk` makes
/// (Tests/Fixtures/mimictalk: 64² renderer, tiny BFM, tiny HuBERT and ICS-A2M, a pose track), speech in as Opus
/// over WebSocket → HuBERT → ICS-A2M → SECC + keypoints + camera → renderer on Vulkan → x264 → MP4, decoded.
///
/// The synthetic weights are untrained, so what a trained avatar's mouth does (open on vowels, lips together in
/// silence) cannot be asserted here; the demo avatar's end-to-end tests assert it through the same session pipeline.
/// Here the resting mouth is the motion model's idle output (what it makes of digital silence). What is asserted:
/// the file is complete and in sync, every decoded picture is the renderer's picture of the motion the session
/// produced, the head keeps moving in silence, the mouth moves with speech and rests in silence, an interruption
/// keeps the stream continuous and brings the mouth to rest within 200 ms, and two sessions of different avatars
/// stay apart.
@Suite(.serialized, .timeLimit(.minutes(5))) struct MimicTalkEndToEndTests {
    /// The avatar as the daemon sees it, remembering the options of the sessions it made stages for (the
    /// daemon draws each session's seed, which the re-render below needs).
    final class OptionsRecordingAvatar: Avatar {
        let inner: any Avatar
        let options = Mutex<[SessionStageOptions]>([])
        /// When set, every session's stages get this seed instead of the daemon's draw (sessions to compare frame by
        /// frame: the motion model's noise is drawn per frame from the seed).
        let pinnedSeed: UInt64?
        /// When set, the motion model's sampling temperature (0: no noise, the motion a pure function of the audio).
        let pinnedTemperature: Float?
        init(_ inner: any Avatar, pinnedSeed: UInt64? = nil, pinnedTemperature: Float? = nil) {
            self.inner = inner
            self.pinnedSeed = pinnedSeed
            self.pinnedTemperature = pinnedTemperature
        }
        var name: String { inner.name }
        var description: String { inner.description }
        var width: Int { inner.width }
        var height: Int { inner.height }
        var fps: Int { inner.fps }
        var styles: [String] { inner.styles }
        var defaultStyle: String? { inner.defaultStyle }
        var motionNames: [String] { inner.motionNames }
        var rendersVideo: Bool { inner.rendersVideo }
        var algorithmicLatencyMs: Int { inner.algorithmicLatencyMs }
        func poseRefusal(_ pose: SessionPose) -> String? { inner.poseRefusal(pose) }
        func makeStages(options: SessionStageOptions) throws -> SessionStages {
            var options = options
            if let pinnedSeed { options.seed = pinnedSeed }
            if let pinnedTemperature { options.temperature = pinnedTemperature }
            self.options.withLock { $0.append(options) }
            return try inner.makeStages(options: options)
        }
        var lastSeed: UInt64 { options.withLock { $0.last?.seed ?? 0 } }
    }

    static let fixture = TestDaemon.repositoryRoot.appendingPathComponent("Tests/Fixtures/mimictalk")
    static let context = Result { try ComputeContext(requirement: DeviceRequirement(), cacheDirectory: nil) }
    static let shared: Result<any Avatar, any Error> = Result {
        let bundle = try AvatarBundle(directory: fixture, supportedKinds: ModelKind.supported)
        return try AvatarFactory.makeAvatar(bundle, context: try context.get())
    }

    /// A second avatar: the fixture under another name, made another person.
    static let other: Result<any Avatar, any Error> = Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mimictalk-other-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // Another person: the learned tri-plane, the background and the face shape changed.
        let changed = ["identity.safetensors": ["bg_img", "id"], "renderer.safetensors": ["learnable_triplane"]]
        for name in try FileManager.default.contentsOfDirectory(atPath: fixture.path) {
            guard let negate = changed[name] else {
                try FileManager.default.copyItem(at: fixture.appendingPathComponent(name), to: dir.appendingPathComponent(name))
                continue
            }
            let file = try SafeTensorsFile(url: fixture.appendingPathComponent(name))
            var writer = SafeTensorsWriter()
            writer.metadata = file.metadata
            for tensor in file.names {
                let view = try file.tensor(tensor)
                writer.add(tensor, shape: view.shape, floats: negate.contains(tensor) ? view.floats().map { -$0 } : view.floats())
            }
            try writer.write(to: dir.appendingPathComponent(name))
        }
        let manifest = dir.appendingPathComponent("manifest.json")
        let text = try String(contentsOf: manifest, encoding: .utf8)
            .replacingOccurrences(of: "\"name\": \"fixture_mimictalk\"", with: "\"name\": \"fixture_mimictalk_b\"")
        try text.write(to: manifest, atomically: true, encoding: .utf8)
        let bundle = try AvatarBundle(directory: dir, supportedKinds: ModelKind.supported)
        return try AvatarFactory.makeAvatar(bundle, context: try context.get())
    }

    /// Mean |Δ| of the luma planes.
    static func lumaError(_ a: [UInt8], _ b: [UInt8]) -> Double {
        zip(a, b).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } / Double(max(a.count, 1))
    }

    /// Renders the session's motion again with a fresh frame stage of the same options: the pictures the stream
    /// must carry.
    static func expectedLuma(_ avatar: any Avatar, _ motion: [MotionFrameRecord], seed: UInt64) throws -> [[UInt8]] {
        let frames = try #require(try avatar.makeStages(options: SessionStageOptions(seed: seed)).frames)
        return try motion.map { f in
            let i420 = try frames.render(MotionFrame(index: f.index, coefficients: f.coefficients))
            return Array(i420.data.prefix(i420.width * i420.height))
        }
    }

    @Test func speechInMimicTalkFramesOutCompleteAndInSync() async throws {
        let avatar = OptionsRecordingAvatar(try Self.shared.get())
        #expect(avatar.rendersVideo && avatar.width == 64 && avatar.height == 64)
        #expect(avatar.motionNames.count == MimicTalkMotionStage.dimension)
        let daemon = try await TestDaemon.start(avatars: [avatar])
        let (_, packets) = try DemoAvatarEndToEndTests.speech("Hello there, this face talks.", silence: 1.0)
        let client = StreamingClient(url: daemon.url, logger: .init(label: "t"))
        let result = try await client.run(start: SessionStart(avatar: avatar.name, output: "file-mp4"), packets: packets, pacing: .fast)
        #expect(result.closeCode == 1000, "\(result.errors)")
        let ready = try #require(result.ready)
        let frames = Int((Double(packets.count) * 0.02 * 25).rounded(.up))
        #expect(result.ended?.frames == frames)

        let probe = try MediaProbe(path: daemon.file(for: ready.sessionID))
        #expect(probe.frames.count == frames)
        #expect(probe.frames.first?.width == 64 && probe.frames.first?.height == 64)
        let audioStart = Double(probe.firstAudioPTS ?? 0) / 1e9, videoStart = Double(probe.frames.first?.pts ?? 0) / 1e9
        #expect(abs(audioStart - videoStart) <= 0.04)
        #expect(abs(probe.audioDuration - Double(packets.count) * 0.02) <= 0.04)

        // Every picture is the renderer's picture of the session's motion (up to x264's loss).
        let motion = daemon.motionBox.frames(ready.sessionID)
        #expect(motion.count == frames)
        let expected = try Self.expectedLuma(avatar.inner, motion, seed: avatar.lastSeed)
        let errors = zip(probe.frames, expected).map { Self.lumaError($0.0.luma, $0.1) }
        #expect(errors.allSatisfy { $0 < 3 }, "mean |Δ| luma per frame: \(errors)")
        // The pictures change with the motion: consecutive frames differ.
        let changes = zip(expected, expected.dropFirst()).map { Self.lumaError($0.0, $0.1) }
        #expect(changes.filter { $0 > 0.05 }.count > changes.count / 2, "frame-to-frame change: \(changes)")

        // The head keeps moving in the trailing second of silence: the camera follows the pose track.
        let camera = MimicTalkMotionStage.expressionCount + MimicTalkMotionStage.keypointValues
        let tail = motion.suffix(25).map { Array($0.coefficients[camera...]) }
        #expect(Set(tail.map { $0.map(\.bitPattern) }).count == tail.count, "a camera repeats in silence")
        await daemon.stop()
    }

    /// The expression coefficients of a motion frame (what shapes the face's SECC map and so the mouth).
    static func expression(_ frame: MotionFrameRecord) -> [Float] {
        Array(frame.coefficients.prefix(MimicTalkMotionStage.expressionCount))
    }

    /// Max |Δ| over the expression coefficients.
    static func expressionDistance(_ a: [Float], _ b: [Float]) -> Double {
        Double(zip(a, b).map { abs($0 - $1) }.max() ?? .infinity)
    }

    /// The mouth region in the picture: the box around the lm68 mouth keypoints 48–67 of every frame (the torso
    /// keypoints the motion stage projects with the session's pose, in [−1, 1], x right, y down), padded.
    static func mouthBox(_ motion: [MotionFrameRecord], size: Int, padding: Int) -> (x: Range<Int>, y: Range<Int>) {
        let e = MimicTalkMotionStage.expressionCount
        var xs: [Double] = [], ys: [Double] = []
        for frame in motion {
            for p in 48..<68 {
                xs.append((Double(frame.coefficients[e + 2 * p]) + 1) / 2 * Double(size))
                ys.append((Double(frame.coefficients[e + 2 * p + 1]) + 1) / 2 * Double(size))
            }
        }
        func range(_ v: [Double]) -> Range<Int> {
            max(0, Int((v.min() ?? 0).rounded(.down)) - padding)..<min(size, Int((v.max() ?? 0).rounded(.up)) + padding)
        }
        return (range(xs), range(ys))
    }

    /// Mean |Δ| of two luma planes inside a box.
    static func boxLumaError(_ a: [UInt8], _ b: [UInt8], box: (x: Range<Int>, y: Range<Int>), width: Int) -> Double {
        var sum = 0.0
        for y in box.y { for x in box.x { sum += abs(Double(a[y * width + x]) - Double(b[y * width + x])) } }
        return sum / Double(max(box.x.count * box.y.count, 1))
    }

    /// Mean |Δ| of the luma (BT.601 weights, in 8-bit levels) of two renderer images [3, S, S] in [−1, 1] inside a box.
    static func boxImageLumaError(_ a: [Float], _ b: [Float], box: (x: Range<Int>, y: Range<Int>), size: Int) -> Double {
        let plane = size * size, weights: [Double] = [0.299, 0.587, 0.114]
        var sum = 0.0
        for y in box.y {
            for x in box.x {
                var d = 0.0
                for c in 0..<3 { d += weights[c] * Double(a[c * plane + y * size + x] - b[c * plane + y * size + x]) }
                sum += abs(d) * 255 / 2
            }
        }
        return sum / Double(max(box.x.count * box.y.count, 1))
    }

    static func mean(_ v: some Collection<Double>) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }

    /// The motion the avatar makes on digital silence alone (`seconds` of it, as Opus through the daemon like any
    /// speech), in a session with `avatar`'s pinned seed: its idle output, frame by frame.
    static func idleMotion(_ avatar: OptionsRecordingAvatar, seconds: Double) async throws -> [MotionFrameRecord] {
        let daemon = try await TestDaemon.start(avatars: [avatar])
        let quiet = try TestAudio.packets(TestAudio.segments([(seconds, 0)])).map { ClientPacket(data: $0, duration48k: 960) }
        let result = try await StreamingClient(url: daemon.url, logger: .init(label: "idle"))
            .run(start: SessionStart(avatar: avatar.name, output: "file-mkv"), packets: quiet, pacing: .fast)
        #expect(result.closeCode == 1000, "\(result.errors)")
        let motion = daemon.motionBox.frames(try #require(result.ready?.sessionID))
        await daemon.stop()
        return motion
    }

    /// The synthetic models are untrained, so a closed mouth cannot mean lips together: for this avatar the resting
    /// mouth is the motion model's idle output, what it emits on digital silence, taken from a second session of
    /// digital silence only with the same seed (the model's noise is drawn per frame from the seed, so the two
    /// sessions compare frame by frame; without that the noise alone moves the expression more than speech does).
    /// Speech, then 2 s of digital silence; the silence counts from 200 ms after the last loud 40 ms frame.
    ///
    /// - Motion: the expression coefficients (the first 64 motion values) stay close to the idle output in the
    ///   silence and are far from it during speech.
    /// - Pixels, in the mouth box (lm68 keypoints 48–67 projected with the session's pose, padded by 3 px; the
    ///   synthetic BFM's keypoints are random vertices of its grid face, so the box covers most of the face): the
    ///   renderer's image of each frame against its image of the same frame with the idle expression. Camera, torso
    ///   keypoints and NeRF draws are the frame's own in both, so the head, which keeps moving along the pose track
    ///   in silence, cancels out and what remains is the expression's effect. The decoded frame-to-frame change
    ///   cannot show it: with these weights it is dominated by the head motion and the per-frame NeRF draws (speech
    ///   and silence differ by about 2 %), and the untrained renderer's response to the expression is a fraction
    ///   of a luma level, below x264's loss. So it is measured on the renderer's images, which the decoded frames
    ///   match within x264's loss.
    @Test func theMouthMovesWithSpeechAndRestsInSilence() async throws {
        let avatar = OptionsRecordingAvatar(try Self.shared.get(), pinnedSeed: 0x5EED)
        let daemon = try await TestDaemon.start(avatars: [avatar])
        let (pcm, packets) = try DemoAvatarEndToEndTests.speech("Hello there, my mouth moves while I talk, then it rests.", silence: 2.0)
        let result = try await StreamingClient(url: daemon.url, logger: .init(label: "t"))
            .run(start: SessionStart(avatar: avatar.name, output: "file-mp4"), packets: packets, pacing: .fast)
        #expect(result.closeCode == 1000, "\(result.errors)")
        let id = try #require(result.ready?.sessionID)
        let motion = daemon.motionBox.frames(id)
        let probe = try MediaProbe(path: daemon.file(for: id))
        await daemon.stop()
        #expect(probe.frames.count == motion.count && motion.count > 50)

        // Speech: the first to the last loud frame; silence: from 200 ms (5 frames) after the last loud one.
        let envelope = DemoAvatarEndToEndTests.envelope(pcm, frames: motion.count)
        let firstLoud = try #require(envelope.firstIndex { $0 > 0.01 }), lastLoud = try #require(envelope.lastIndex { $0 > 0.01 })
        let speech = firstLoud...lastLoud, silence = (lastLoud + 6)..<motion.count
        #expect(silence.count >= 40, "speech frames \(speech), silence \(silence)")

        // Motion: the expression against the idle output of the same frame.
        let idle = try await Self.idleMotion(avatar, seconds: Double(packets.count) * 0.02)
        try #require(idle.count == motion.count)
        let distance = zip(motion, idle).map { Self.expressionDistance(Self.expression($0.0), Self.expression($0.1)) }
        let speechDistance = Self.mean(speech.map { distance[$0] })
        let silenceDistance = silence.map { distance[$0] }
        let idleSteps = zip(idle, idle.dropFirst()).map { Self.expressionDistance(Self.expression($0.0), Self.expression($0.1)) }
        print("expression max |Δ| from the idle output of the same frame: speech mean \(speechDistance); silence mean "
              + "\(Self.mean(silenceDistance)), max \(silenceDistance.max() ?? .nan); the idle output's own frame-to-frame "
              + "change: mean \(Self.mean(idleSteps))")
        // Measured: silence mean 0.26 and max 0.59 of the speech mean.
        #expect(Self.mean(silenceDistance) < 0.4 * speechDistance)
        #expect(silenceDistance.allSatisfy { $0 < 0.8 * speechDistance }, "silence: \(silenceDistance)")

        // Pixels: the expression's effect in the mouth box, the head motion held equal.
        let box = Self.mouthBox(motion, size: avatar.width, padding: 3)
        #expect(box.x.count >= 4 && box.y.count >= 4)
        let stage = try #require(try avatar.inner.makeStages(options: SessionStageOptions(seed: avatar.lastSeed)).frames as? MimicTalkFrameStage)
        let e = MimicTalkMotionStage.expressionCount
        var effect: [Double] = [], x264: [Double] = []
        for (f, i) in zip(motion, idle) {
            // The first rendered frame fixes the session's source map (cond_src): the session's own first frame.
            let own = try stage.render(MotionFrame(index: f.index, coefficients: f.coefficients))
            x264.append(Self.lumaError(probe.frames[f.index].luma, Array(own.data.prefix(own.width * own.height))))
            let ownImage = try stage.image(MotionFrame(index: f.index, coefficients: f.coefficients))
            let idleImage = try stage.image(MotionFrame(index: f.index, coefficients: Array(i.coefficients[..<e]) + f.coefficients[e...]))
            effect.append(Self.boxImageLumaError(ownImage, idleImage, box: box, size: avatar.width))
        }
        let speechEffect = Self.mean(speech.map { effect[$0] }), silenceEffect = Self.mean(silence.map { effect[$0] })
        print("mouth box x \(box.x) y \(box.y); mean |Δ| luma of the expression against the idle one (same camera and draws): "
              + "speech \(speechEffect), silence \(silenceEffect), ratio \(speechEffect / silenceEffect); decoded vs rendered "
              + "mean |Δ| luma: max \(x264.max() ?? .nan)")
        #expect(x264.allSatisfy { $0 < 3 }, "decoded vs rendered: \(x264)")
        // Measured 1.53: the untrained renderer's response to the expression is weak and uneven (0.03–0.5 levels per
        // frame, deterministic for the pinned seed), so the margin is on the ratio.
        #expect(speechEffect > 1.25 * silenceEffect, "per frame: \(effect)")
    }

    @Test func interruptionKeepsTheStreamContinuous() async throws {
        let avatar = try Self.shared.get()
        let daemon = try await TestDaemon.start(avatars: [avatar])
        let (_, talk) = try DemoAvatarEndToEndTests.speech("We keep talking and talking, on and on.", silence: 0)
        let quiet = try TestAudio.packets(TestAudio.segments([(0.8, 0)])).map { ClientPacket(data: $0, duration48k: 960) }
        let client = StreamingClient(url: daemon.url, logger: .init(label: "t"))
        let result = try await client.run(
            start: SessionStart(avatar: avatar.name, output: "file-mkv"), packets: talk + quiet, pacing: .fast,
            actions: [.init(beforePacket: talk.count, kind: .pause(.milliseconds(300))),
                      .init(beforePacket: talk.count, kind: .interrupt)])
        #expect(result.closeCode == 1000, "\(result.errors)")
        let id = try #require(result.ready?.sessionID)
        #expect(result.messages.contains { if case .inputInterrupted = $0 { true } else { false } })
        let motion = daemon.motionBox.frames(id)
        #expect(motion.map(\.index) == Array(0..<motion.count), "frame numbers are continuous")
        let probe = try MediaProbe(path: daemon.file(for: id, ext: "mkv"))
        #expect(probe.frames.count == motion.count)
        #expect(result.ended?.frames == motion.count)
        // No camera jump at the cut: the pose continues along the track (one frame's step at most, with margin).
        let camera = MimicTalkMotionStage.expressionCount + MimicTalkMotionStage.keypointValues
        let steps = zip(motion, motion.dropFirst()).map { a, b in
            zip(a.coefficients[camera...], b.coefficients[camera...]).map { abs($0 - $1) }.max() ?? 0
        }
        let typical = steps.sorted()[steps.count / 2]
        #expect(steps.allSatisfy { $0 <= max(4 * typical, 1e-4) }, "camera steps: \(steps)")
        await daemon.stop()
    }

    /// The motion stage answers an interrupt by dropping what it had sampled, restarting the motion model from
    /// silence and cross-fading from the pose on screen into the model's output over 5 frames. With the sampling
    /// noise off (temperature 0, a session option) the model's output after that restart is what a session of
    /// digital silence makes from its start, frame for frame: same reset context, same silent features. So from 5
    /// frames (200 ms) after the reported cut, each frame's expression must be the idle session's frame at the same
    /// distance from its start, the mouth at rest; the frames before the cut show it was not.
    @Test func interruptClosesTheMouthWithin200ms() async throws {
        let avatar = OptionsRecordingAvatar(try Self.shared.get(), pinnedSeed: 0x5EED, pinnedTemperature: 0)
        let daemon = try await TestDaemon.start(avatars: [avatar])
        let (_, talk) = try DemoAvatarEndToEndTests.speech("We keep talking and talking, on and on, about many many things.", silence: 0)
        let quiet = try TestAudio.packets(TestAudio.segments([(1.0, 0)])).map { ClientPacket(data: $0, duration48k: 960) }
        // The speech arrives at once and the interrupt after it; the cut lands part way through the speech (the file
        // output renders a few frames per turn), and the checks count from the reported cut.
        let result = try await StreamingClient(url: daemon.url, logger: .init(label: "t")).run(
            start: SessionStart(avatar: avatar.name, output: "file-mkv"), packets: talk + quiet, pacing: .fast,
            actions: [.init(beforePacket: talk.count, kind: .pause(.milliseconds(300))),
                      .init(beforePacket: talk.count, kind: .interrupt)])
        #expect(result.closeCode == 1000, "\(result.errors)")
        let id = try #require(result.ready?.sessionID)
        let interrupted = result.messages.compactMap { if case .inputInterrupted(let ts) = $0 { ts } else { nil } }
        let cut = Int((Double(try #require(interrupted.first)) / 48000 * 25).rounded(.up))
        let motion = daemon.motionBox.frames(id)
        await daemon.stop()
        try #require(motion.count >= cut + 15 && cut >= 1, "cut at frame \(cut) of \(motion.count)")

        // The idle session gets what followed the cut: the 1 s of silence, to its end (a session's last frames come
        // from its final flush).
        let idle = try await Self.idleMotion(avatar, seconds: 1.0).map(Self.expression)
        try #require(idle.count == motion.count - cut, "idle \(idle.count) frames, after the cut \(motion.count - cut)")
        let fade = 5  // the motion stage's cross-fade, A2MMotionStage.interruptFadeFrames: 200 ms
        let after = (cut..<motion.count).map { Self.expressionDistance(Self.expression(motion[$0]), idle[$0 - cut]) }
        let before = (0..<cut).map { Self.expressionDistance(Self.expression(motion[$0]), idle[$0]) }
        print("cut at frame \(cut) of \(motion.count); expression max |Δ| from the idle output: before the cut \(before), "
              + "the \(fade) frames after it \(Array(after.prefix(fade))), from then on max \(after.dropFirst(fade).max() ?? .nan)")
        // Measured: 0 (bit-identical) from the 5th frame after the cut on; the tolerance allows float reordering.
        #expect(after.dropFirst(fade).allSatisfy { $0 < 1e-4 }, "from the cut on: \(after)")
        #expect(after[0] > 0.05 && (before.max() ?? 0) > 0.05, "the mouth was at rest before the cut")
    }

    /// Protocol v1 has no pose field: a client picks the pose by the avatar name, here a config variant that holds
    /// the head still at a configured pose.
    @Test func theAvatarNameChoosesTheSessionPose() async throws {
        let base = OptionsRecordingAvatar(try Self.shared.get())
        let config = try DaemonConfig.parse("""
        [avatars.variants.fixture_left]
        avatar = "fixture_mimictalk"
        pose = "static"
        static_pose = [0.05, 0.3, -0.02, 0.01, -0.02, 0.1]
        """, file: "c.toml")
        let variants = PoseVariantAvatar.make(config.avatarVariants, of: [base])
        #expect(variants.problems.isEmpty)
        let daemon = try await TestDaemon.start(avatars: [base] + variants.avatars)
        let (_, packets) = try DemoAvatarEndToEndTests.speech("Hold still.", silence: 0.2)
        let result = try await StreamingClient(url: daemon.url, logger: .init(label: "t"))
            .run(start: SessionStart(avatar: "fixture_left", output: "file-mp4"), packets: packets, pacing: .fast)
        #expect(result.closeCode == 1000, "\(result.errors)")
        let id = try #require(result.ready?.sessionID)
        #expect(base.options.withLock { $0.last?.pose } == .fixed(euler: [0.05, 0.3, -0.02], trans: [0.01, -0.02, 0.1]))
        let motion = daemon.motionBox.frames(id)
        #expect(!motion.isEmpty)
        // Every frame's camera is the configured pose's (stages made directly with that pose; within float
        // rounding of the 7-frame mean), far from the track the avatar's own sessions follow.
        let camera = MimicTalkMotionStage.expressionCount + MimicTalkMotionStage.keypointValues
        func firstCamera(_ pose: SessionPose) throws -> [Float] {
            let stages = try base.inner.makeStages(options: SessionStageOptions(seed: 1, pose: pose))
            let frames = try stages.motion.append(stages.features.append([Float](repeating: 0, count: 16000)))
                + stages.motion.append(stages.features.flush()) + stages.motion.flush()
            return Array(try #require(frames.first).coefficients[camera...])
        }
        let expected = try firstCamera(.fixed(euler: [0.05, 0.3, -0.02], trans: [0.01, -0.02, 0.1]))
        let errors = motion.map { zip($0.coefficients[camera...], expected).map { abs($0 - $1) }.max() ?? .infinity }
        #expect(errors.allSatisfy { $0 < 1e-5 }, "camera max |Δ| per frame: \(errors)")
        let track = try firstCamera(.avatar)
        #expect(zip(track, expected).map { abs($0 - $1) }.max() ?? 0 > 0.05)
        // And the pictures are the renderer's pictures of that motion.
        let probe = try MediaProbe(path: daemon.file(for: id))
        #expect(probe.frames.count == motion.count)
        let luma = try Self.expectedLuma(base.inner, motion, seed: base.lastSeed)
        let lumaErrors = zip(probe.frames, luma).map { Self.lumaError($0.0.luma, $0.1) }
        #expect(lumaErrors.allSatisfy { $0 < 3 }, "mean |Δ| luma per frame: \(lumaErrors)")
        await daemon.stop()
    }

    @Test func sessionsOfTwoAvatarsStayApart() async throws {
        let a = OptionsRecordingAvatar(try Self.shared.get()), b = OptionsRecordingAvatar(try Self.other.get())
        let daemon = try await TestDaemon.start(configure: { $0.limits.maxSessions = 4 }, avatars: [a, b])
        let (_, packets) = try DemoAvatarEndToEndTests.speech("Two faces at once.", silence: 0.4)
        async let first = StreamingClient(url: daemon.url, logger: .init(label: "a"))
            .run(start: SessionStart(avatar: a.name, output: "file-mp4"), packets: packets, pacing: .fast)
        async let second = StreamingClient(url: daemon.url, logger: .init(label: "b"))
            .run(start: SessionStart(avatar: b.name, output: "file-mp4"), packets: packets, pacing: .fast)
        let (ra, rb) = try await (first, second)
        #expect(ra.closeCode == 1000 && rb.closeCode == 1000, "\(ra.errors) \(rb.errors)")
        let ida = try #require(ra.ready?.sessionID), idb = try #require(rb.ready?.sessionID)
        for (avatar, id) in [(a, ida), (b, idb)] {
            let motion = daemon.motionBox.frames(id)
            let probe = try MediaProbe(path: daemon.file(for: id))
            #expect(probe.frames.count == motion.count && !motion.isEmpty)
            let expected = try Self.expectedLuma(avatar.inner, motion, seed: avatar.lastSeed)
            let errors = zip(probe.frames, expected).map { Self.lumaError($0.0.luma, $0.1) }
            #expect(errors.allSatisfy { $0 < 3 }, "\(avatar.name): mean |Δ| luma per frame: \(errors)")
        }
        // Each file is its own avatar's picture, not the other's: the other avatar's rendering of the same motion is
        // much further away.
        let pa = try MediaProbe(path: daemon.file(for: ida))
        let motionA = daemon.motionBox.frames(ida)
        let own = try Self.expectedLuma(a.inner, motionA, seed: a.lastSeed), cross = try Self.expectedLuma(b.inner, motionA, seed: a.lastSeed)
        let ownError = zip(pa.frames, own).map { Self.lumaError($0.0.luma, $0.1) }.reduce(0, +) / Double(own.count)
        let crossError = zip(pa.frames, cross).map { Self.lumaError($0.0.luma, $0.1) }.reduce(0, +) / Double(own.count)
        #expect(crossError > max(3 * ownError, 2), "own \(ownError), other avatar's \(crossError)")
        await daemon.stop()
    }
}

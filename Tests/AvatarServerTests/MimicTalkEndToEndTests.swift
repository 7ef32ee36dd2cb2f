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
/// The synthetic weights are untrained, so what a trained avatar's mouth does (open on vowels, closed in silence)
/// cannot be asserted here; the demo avatar's end-to-end tests assert it through the same session pipeline. What
/// is asserted: the file is complete and in sync, every decoded picture is the renderer's picture of the motion
/// the session produced, the head keeps moving in silence, an interruption keeps the stream continuous, and two
/// sessions of different avatars stay apart.
@Suite(.serialized, .timeLimit(.minutes(5))) struct MimicTalkEndToEndTests {
    /// The avatar as the daemon sees it, remembering the options of the sessions it made stages for (the
    /// daemon draws each session's seed, which the re-render below needs).
    final class OptionsRecordingAvatar: Avatar {
        let inner: any Avatar
        let options = Mutex<[SessionStageOptions]>([])
        init(_ inner: any Avatar) { self.inner = inner }
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

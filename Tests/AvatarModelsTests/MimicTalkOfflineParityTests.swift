import AvatarBundle
import AvatarConfig
import AvatarFace
import AvatarFormats
import AvatarModels
import AvatarOperators
import AvatarPipeline
import AvatarStages
import AvatarTestSupport
import AvatarVulkan
import Foundation
import Logging
import Synchronization
import Testing

/// `render --window full` on a MimicTalk avatar against upstream's whole offline inference (audio → frames):
/// the fixture bundle (Tests/Fixtures/mimictalk) through the stages a full-window session gets
/// (`makeStages(options:)` with the session seed and the bundle's style and sampler defaults), compared with
/// `tools/reference/mimictalk_offline.py` in float64 (Tests/Fixtures/mimictalk/offline.safetensors, written by
/// tools/make_mimictalk_offline_fixture.py): HuBERT rows, expressions, smoothed torso keypoints, cameras, and the
/// frame stage's float images of six frames, then their 8-bit form.
///
/// The waveform enters the feature stage directly as float samples: a session's audio arrives as Opus packets,
/// and Opus is lossy, so the packets' decoded waveform is not the reference's; everything after the decoder is
/// the session's own stages.
@Suite(.serialized) struct MimicTalkOfflineParityTests {
    static let bundleDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/mimictalk")

    struct Golden {
        let io: SafeTensorsFile
        let seed: UInt64
        let frames: Int
        let kept: Int
        let sessionFrames: Int

        init() throws {
            io = try SafeTensorsFile(url: MimicTalkOfflineParityTests.bundleDirectory.appendingPathComponent("offline.safetensors"))
            let json = try JSONSerialization.jsonObject(with: Data(io.metadata["case"]!.utf8)) as! [String: Any]
            seed = UInt64(json["seed"] as! Int)
            frames = json["frames"] as! Int
            kept = json["kept"] as! Int
            sessionFrames = json["session_frames"] as! Int
        }

        func floats(_ name: String) throws -> [Float] { try io.tensor(name).floats() }

        /// The reference's float32-vs-float64 deviation (max, mean) of a tensor.
        func floor(_ name: String) throws -> (max: Double, mean: Double) {
            let e = try floats("f32_error.\(name)")
            return (Double(e[0]), Double(e[1]))
        }
    }

    static func meanAbsDiff(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count)
        return zip(a, b).reduce(0.0) { $0 + Double(abs($1.0 - $1.1)) } / Double(max(1, a.count))
    }

    /// Upstream's video write: ((x + 1) / 2 · 255) truncated, in float32 as upstream computes it.
    static func eightBit(_ image: [Float]) -> [Int] {
        image.map { Int(max(0, min(255, ($0 + 1) / 2 * 255)).rounded(.towardZero)) }
    }

    @Test func fullWindowRenderMatchesUpstreamOfflineInference() throws {
        let golden = try Golden()
        let bundle = try AvatarBundle(directory: Self.bundleDirectory, supportedKinds: ModelKind.supported)
        let context = try ComputeContext(requirement: DeviceRequirement(), cacheDirectory: nil)
        let avatar = try AvatarFactory.makeAvatar(bundle, context: context)
        #expect(avatar.rendersVideo)
        let stages = try avatar.makeStages(options: SessionStageOptions(seed: golden.seed, fullWindow: true))
        let frameStage = try #require(stages.frames as? MimicTalkFrameStage)
        let wave = try golden.floats("wave")
        let (rows, motion) = try FullWindowParityTests.run(stages, wave)

        // Counts: one frame per 40 ms of audio; upstream samples T = t_x / 2 frames and renders T − 4 of them.
        let (e, k, c) = (MimicTalkMotionStage.expressionCount, MimicTalkMotionStage.keypointValues, MimicTalkMotionStage.cameraValues)
        let n = golden.sessionFrames, kept = golden.kept
        #expect(wave.count == 640 * n && kept == golden.frames - 4 && kept < n && n <= golden.frames)
        #expect(motion.map(\.index) == Array(0..<n))
        #expect(motion.allSatisfy { $0.coefficients.count == e + k + c })

        // HuBERT rows (utterance mode): the session's 2 rows per frame against upstream's padded rows. Tolerance
        // of every motion parity test: 10 × the reference's float32 floor + 1e-5 × max |golden|.
        func limit(_ name: String, _ values: [Float]) throws -> Double {
            10 * (try golden.floor(name).max) + 1e-5 * Double(values.map { abs($0) }.max() ?? 0)
        }
        let goldenRows = try golden.floats("features")
        let rowValues = rows.count * rows.dimension
        let rowWant = Array(goldenRows.prefix(rowValues))
        let rowError = maxAbsDiff(rows.values, rowWant), rowLimit = try limit("features", goldenRows)
        print("offline features (\(rows.count) rows): max |Δ| \(rowError), mean |Δ| \(Self.meanAbsDiff(rows.values, rowWant)), " +
              "limit \(rowLimit), f32 floor \(try golden.floor("features"))")
        #expect(rowError <= rowLimit)

        // Expressions of the n emitted frames (the sample's first n of T).
        let exp = motion.flatMap { Array($0.coefficients[0..<e]) }
        let goldenExp = try golden.floats("exp")
        let expWant = Array(goldenExp.prefix(n * e))
        let expError = maxAbsDiff(exp, expWant), expLimit = try limit("exp", goldenExp)
        print("offline exp (\(n) frames): max |Δ| \(expError), mean |Δ| \(Self.meanAbsDiff(exp, expWant)), limit \(expLimit), " +
              "f32 floor \(try golden.floor("exp"))")
        #expect(expError <= expLimit)

        // Torso keypoints of the kept frames (smoothed over those T − 4, as upstream renders them). They follow
        // the expressions: Double arithmetic on float32 expressions whose error is bounded above, so 1e-5 (the
        // keypoint tolerance of docs/avatars.md §5) is ≥ 10 × what the expression error moves them by.
        let kp = motion.prefix(kept).flatMap { Array($0.coefficients[e..<(e + k)]) }
        let goldenKp = try golden.floats("keypoints")
        let kpError = maxAbsDiff(kp, goldenKp)
        print("offline keypoints (\(kept) frames): max |Δ| \(kpError), mean |Δ| \(Self.meanAbsDiff(kp, goldenKp)), limit 1e-5, " +
              "f32 floor \(try golden.floor("keypoints"))")
        #expect(kpError <= 1e-5)

        // Cameras of the n emitted frames (smoothed over all T sampled frames): pose arithmetic only, in Double;
        // 1e-6 is 4 ulp of the largest value (the camera radius ≈ 2.7) after the float32 rounding.
        let cameras = motion.flatMap { Array($0.coefficients[(e + k)...]) }
        let goldenCameras = try golden.floats("cameras")
        let cameraError = maxAbsDiff(cameras, Array(goldenCameras.prefix(n * c)))
        print("offline cameras (\(n) frames): max |Δ| \(cameraError), limit 1e-6")
        #expect(cameraError <= 1e-6)

        // What the two smoothing ranges would give instead, so the comparisons above tell them apart: cameras
        // smoothed over the kept frames only, keypoints smoothed over all emitted frames.
        let identityFile = try SafeTensorsFile(url: Self.bundleDirectory.appendingPathComponent("identity.safetensors"))
        let face = try BFMFaceModel(url: Self.bundleDirectory.appendingPathComponent("face_model.safetensors"))
        let keypoints = try TorsoKeypoints(face: face, identity: try identityFile.tensor("id").floats())
        let euler = try identityFile.tensor("pose_euler").floats(), trans = try identityFile.tensor("pose_trans").floats()
        let track: [HeadPose] = try (0..<(euler.count / 3)).map { (i: Int) throws -> HeadPose in
            try HeadPose(euler: Array(euler[(3 * i)..<(3 * i + 3)]), trans: Array(trans[(3 * i)..<(3 * i + 3)]))
        }
        let reference = try HeadPose(euler: try identityFile.tensor("ref_euler").floats(), trans: try identityFile.tensor("ref_trans").floats())
        let poses = try PoseSource.track(track, reference: reference)
        let keptCameras = poses.utteranceCameras(count: kept).flatMap { $0 }
        let keptCameraError = maxAbsDiff(keptCameras, Array(goldenCameras.prefix(kept * c)))
        let raw: [[Float]] = try motion.map { (frame: MotionFrame) throws -> [Float] in
            try keypoints.keypoints(exp: Array(frame.coefficients[0..<e]), pose: poses.pose(frame: frame.index))
        }
        let allKp = try KeypointSmoother.smooth(raw).prefix(kept).flatMap { $0 }
        let allKpError = maxAbsDiff(allKp, goldenKp)
        print("cameras smoothed over the kept frames only: max |Δ| \(keptCameraError); keypoints smoothed over all " +
              "\(n) frames: max |Δ| \(allKpError)")
        #expect(keptCameraError > 100 * 1e-6 && allKpError > 100 * 1e-5)

        // Images: the frame stage's float image [3, S, S] (after the clamp), frame 0 first so that cond_src is
        // upstream's (the SECC of the first predicted expression). Inputs differ from the reference's by the
        // expression error above (SECC vertices move by ≈1e-5 of a pixel), plus the device's float32 renderer:
        // the renderer's own parity is ≤ 1.5e-6 max / 5e-7 mean on this configuration (docs/renderer.md), so
        // 2e-4 max / 2e-5 mean leaves 100× room for the propagated motion error while a wrong input (camera,
        // keypoints, draws, SECC quirk) moves pixels by far more.
        let imageFrames = try golden.io.tensor("image_frames").ints()
        let goldenImages = try golden.floats("images")
        let plane = 3 * frameStage.width * frameStage.height
        #expect(imageFrames.first == 0 && imageFrames.last == kept - 1 && goldenImages.count == imageFrames.count * plane)
        var worst = (max: 0.0, mean: 0.0), eightBitOff = 0, eightBitOver1 = 0
        for (slot, f) in imageFrames.enumerated() {
            let got = try frameStage.image(motion[f])
            let want = Array(goldenImages[(slot * plane)..<((slot + 1) * plane)])
            let (mx, mean) = (maxAbsDiff(got, want), Self.meanAbsDiff(got, want))
            let (a, b) = (Self.eightBit(got), Self.eightBit(want))
            let off = zip(a, b).filter { $0 != $1 }.count, over1 = zip(a, b).filter { abs($0 - $1) > 1 }.count
            print("offline image frame \(f): max |Δ| \(mx), mean |Δ| \(mean); 8-bit: \(off) of \(plane) values differ, \(over1) by > 1")
            worst = (max(worst.max, mx), max(worst.mean, mean))
            eightBitOff += off
            eightBitOver1 += over1
        }
        let total = imageFrames.count * plane
        print("offline images (\(imageFrames.count) frames): max |Δ| \(worst.max), worst mean |Δ| \(worst.mean), limits 2e-4 / 2e-5, " +
              "f32 floor \(try golden.floor("images")); 8-bit: \(eightBitOff) of \(total) differ, \(eightBitOver1) by > 1")
        #expect(worst.max <= 2e-4 && worst.mean <= 2e-5)
        #expect(Double(total - eightBitOver1) >= 0.999 * Double(total))
    }

    struct NoOutput: Error {}

    /// `avatard render --window full`'s route: the session pipeline fed Opus packets (as the command encodes the
    /// file) with the file's own samples as `sourceAudio`, which the stages read instead of the lossy decode. The
    /// motion of the whole session must be upstream's; without `sourceAudio` (the Opus waveform) it is not.
    @Test func renderCommandRouteReadsTheFileSamples() async throws {
        let golden = try Golden()
        let bundle = try AvatarBundle(directory: Self.bundleDirectory, supportedKinds: ModelKind.supported)
        let avatar = try AvatarFactory.makeAvatar(bundle, context: try ComputeContext(requirement: DeviceRequirement(), cacheDirectory: nil))
        let wave = try golden.floats("wave")
        // Packets of the same second of audio (the output's audio track); 48 kHz by sample repetition is enough here.
        let packets = try TestAudio.packets(wave.flatMap { [$0, $0, $0] }).map { ($0, 960) }
        let root = Self.bundleDirectory.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let preset = try #require(PresetCatalog.load(directory: root.appendingPathComponent("Pipelines").path, operatorPresets: [])["file-mp4"])
        func render(source: [Float]?) async throws -> (ended: Int, frames: [MotionFrameRecord]) {
            var plan = SessionPlan(sessionID: "fw", avatar: avatar, stageOptions: SessionStageOptions(seed: golden.seed, fullWindow: true),
                                   preset: preset, pipeline: "", outputFile: nil, outputDelayMs: 0, maxBufferSeconds: 30, motionOnly: true)
            plan.sourceAudio = source
            let frames = Mutex<[MotionFrameRecord]>([])
            let ended = try await OfflineRender.run(plan: plan, packets: packets, makeOutput: { _, _, _ in throw NoOutput() },
                                                    logger: Logger(label: "t"), onMotion: { f in frames.withLock { $0.append(f) } })
            return (ended.frames, frames.withLock { $0 })
        }
        let e = MimicTalkMotionStage.expressionCount, n = golden.sessionFrames
        let goldenExp = Array(try golden.floats("exp").prefix(n * e))
        let limit = 10 * (try golden.floor("exp").max) + 1e-5 * Double(goldenExp.map { abs($0) }.max() ?? 0)

        let exact = try await render(source: wave)
        #expect(exact.ended == n && exact.frames.map(\.index) == Array(0..<n))
        let exp = exact.frames.flatMap { Array($0.coefficients[0..<e]) }
        let error = maxAbsDiff(exp, goldenExp)
        print("render route with the file's samples: \(exact.frames.count) frames, exp max |Δ| \(error), limit \(limit)")
        #expect(error <= limit)
        let cameras = exact.frames.flatMap { Array($0.coefficients[(e + MimicTalkMotionStage.keypointValues)...]) }
        #expect(maxAbsDiff(cameras, Array(try golden.floats("cameras").prefix(cameras.count))) <= 1e-6)

        let opus = try await render(source: nil)
        let opusExp = opus.frames.prefix(n).flatMap { Array($0.coefficients[0..<e]) }
        let opusError = opusExp.count == goldenExp.count ? maxAbsDiff(opusExp, goldenExp) : .infinity
        print("the same session on the decoded Opus waveform: \(opus.frames.count) frames, exp max |Δ| \(opusError)")
        #expect(opusError > 100 * limit)
    }

    /// A file that is not a whole number of frames: the session's frames are the ones the stages emit (the last one
    /// half covered by the file), for either half of a frame (N mod 640 ≤ 320 gives an odd number of rows).
    @Test(.timeLimit(.minutes(1))) func renderCommandRouteEndsOnFilesOfAnyLength() async throws {
        let bundle = try AvatarBundle(directory: Self.bundleDirectory, supportedKinds: ModelKind.supported)
        let avatar = try AvatarFactory.makeAvatar(bundle, context: try ComputeContext(requirement: DeviceRequirement(), cacheDirectory: nil))
        let wave = try Golden().floats("wave")
        let root = Self.bundleDirectory.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let preset = try #require(PresetCatalog.load(directory: root.appendingPathComponent("Pipelines").path, operatorPresets: [])["file-mp4"])
        for count in [16000 - 640 + 100, 16000 - 640 + 500] {
            let source = Array(wave.prefix(count))
            // As `avatard render` cuts them: ⌈N / 320⌉ packets of 20 ms.
            let packets = Array(try TestAudio.packets(wave.flatMap { [$0, $0, $0] }).prefix((count + 319) / 320)).map { ($0, 960) }
            var plan = SessionPlan(sessionID: "odd", avatar: avatar, stageOptions: SessionStageOptions(seed: 1, fullWindow: true),
                                   preset: preset, pipeline: "", outputFile: nil, outputDelayMs: 0, maxBufferSeconds: 30, motionOnly: true)
            plan.sourceAudio = source
            let frames = Mutex<[MotionFrameRecord]>([])
            let ended = try await OfflineRender.run(plan: plan, packets: packets, makeOutput: { _, _, _ in throw NoOutput() },
                                                    logger: Logger(label: "t"), onMotion: { f in frames.withLock { $0.append(f) } })
            let want = (count + 639) / 640
            #expect(ended.frames == want && frames.withLock { $0.map(\.index) } == Array(0..<want), "\(count) samples")
        }
    }
}

import AvatarBundle
import AvatarFormats
import AvatarModels
import AvatarMotion
import AvatarStages
import Foundation
import Testing

/// The shipped demo bundle's whole motion path in a session — log-mel front-end, the sliding window with its audio
/// context (padded start, padded last window), the seeded session noise, the head's temperature and smoothing —
/// against the reference's frames for a held-out sentence (`tools/demo/make_motion_golden.py`), so the figures of
/// docs/demo-avatar.md §7 (measured with the reference) are what a session emits. The full window likewise.
/// The eye dimensions are the eye process's (`EyeMotionSessionTests`) and are left out.
@Suite(.serialized) struct DemoMotionGoldenTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/demo/motion_golden.safetensors")
    static let eyeNames: Set<String> = ["blink_left", "blink_right", "eyes_left", "eyes_up"]

    static func session(fullWindow: Bool) throws -> (frames: [[Float]], want: [[Float]], names: [String]) {
        let file = try SafeTensorsFile(url: golden)
        let wave = try file.tensor("wave").floats()
        let seed = try #require(UInt64(file.metadata["seed"] ?? ""))
        let bundle = try AvatarBundle(directory: EyeMotionSessionTests.demo, supportedKinds: ModelKind.supported)
        let avatar = try #require(try AvatarFactory.makeAvatar(bundle, context: try EyeMotionSessionTests.context.get()) as? BundleAvatar)
        let stages = try avatar.makeStages(options: SessionStageOptions(seed: seed, fullWindow: fullWindow))
        var frames: [MotionFrame] = []
        for start in stride(from: 0, to: wave.count, by: 320) {  // 20 ms packets, as a session decodes them
            frames += try stages.motion.append(try stages.features.append(Array(wave[start..<min(start + 320, wave.count)])))
        }
        frames += try stages.motion.append(try stages.features.flush())
        frames += try stages.motion.flush()
        let want = try file.tensor(fullWindow ? "full" : "stream")
        let m = avatar.motionNames.count
        #expect(want.shape == [frames.count, m], "golden \(want.shape) vs \(frames.count) frames × \(m)")
        let values = want.floats()
        return (frames.map(\.coefficients), (0..<(values.count / m)).map { Array(values[($0 * m)..<(($0 + 1) * m)]) },
                avatar.motionNames)
    }

    static func compare(fullWindow: Bool) throws {
        let (frames, want, names) = try session(fullWindow: fullWindow)
        var worst = 0.0, sum = 0.0, count = 0
        var jawMax = 0.0
        for (got, ref) in zip(frames, want) {
            for (j, name) in names.enumerated() where !eyeNames.contains(name) {
                let d = Double(abs(got[j] - ref[j]))
                worst = max(worst, d)
                sum += d
                count += 1
                if name == "jaw_open" { jawMax = max(jawMax, Double(abs(ref[j]))) }
            }
        }
        print("demo \(fullWindow ? "full window" : "streaming session") vs reference: \(frames.count) frames, max |Δ| \(worst), "
              + "mean |Δ| \(sum / Double(max(count, 1))) (largest jaw_open \(jawMax))")
        #expect(jawMax > 0.1, "the sentence opens the mouth")
        // float32 on lavapipe against torch float32: windows do not feed each other, so errors do not accumulate.
        #expect(worst < 2e-4, "regenerate with tools/demo/make_motion_golden.py if Avatars/demo changed on purpose")
    }

    @Test func streamingSessionEmitsTheReferenceFrames() throws {
        try Self.compare(fullWindow: false)
    }

    @Test func fullWindowEmitsTheReferenceSample() throws {
        try Self.compare(fullWindow: true)
    }
}

import AvatarBundle
import AvatarModels
import AvatarMotion
import AvatarOperators
import AvatarStages
import AvatarVulkan
import Foundation
import Testing

/// The demo bundle's `eye_motion` through a session's stages: the motion frames' blink and gaze dimensions are the
/// eye process's values for their frame index (seeded by the session seed), also across an interruption; a bundle
/// without `eye_motion` keeps the model's own values, and a misspelt key is refused with its name.
@Suite(.serialized) struct EyeMotionSessionTests {
    static let demo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Avatars/demo")
    static let context = Result { try ComputeContext(requirement: DeviceRequirement(), cacheDirectory: nil) }

    /// 7 s at 16 kHz: syllable-like tone bursts, then silence.
    static let audio: [Float] = (0..<112_000).map { i in
        let t = Double(i) / 16000
        guard t < 3 else { return 0 }
        return Float(0.3 * (0.5 - 0.5 * cos(2 * Double.pi * 4 * t)) * sin(2 * Double.pi * 160 * t))
    }

    static func frames(_ avatar: BundleAvatar, seed: UInt64, interruptAfter: Int? = nil) throws -> [MotionFrame] {
        let stages = try avatar.makeStages(options: SessionStageOptions(seed: seed))
        var out: [MotionFrame] = []
        for start in stride(from: 0, to: audio.count, by: 16000) {
            out += try stages.motion.append(try stages.features.append(Array(audio[start..<min(start + 16000, audio.count)])))
            if let n = interruptAfter, start == 16000 * n { stages.motion.interrupt(lastRendered: out.last) }
        }
        out += try stages.motion.append(try stages.features.flush())
        out += try stages.motion.flush()
        return out
    }

    /// A copy of the demo bundle whose manifest is changed by `edit`.
    static func demoCopy(_ edit: (inout [String: Any]) -> Void) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("demo-eyes-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: demo.path) where name != "manifest.json" {
            try FileManager.default.copyItem(at: demo.appendingPathComponent(name), to: directory.appendingPathComponent(name))
        }
        var manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: demo.appendingPathComponent("manifest.json")))
                                    as? [String: Any])
        edit(&manifest)
        try JSONSerialization.data(withJSONObject: manifest).write(to: directory.appendingPathComponent("manifest.json"))
        return directory
    }

    @Test func demoEyesFollowTheSessionProcess() throws {
        let bundle = try AvatarBundle(directory: Self.demo, supportedKinds: ModelKind.supported)
        let config = try EyeMotionConfig(manifest: try #require(bundle.manifest.eyeMotion, "the demo manifest has eye_motion"))
        let avatar = try #require(try AvatarFactory.makeAvatar(bundle, context: try Self.context.get()) as? BundleAvatar)
        let columns = try EyeMotionConfig.motionNames.map { try #require(avatar.motionNames.firstIndex(of: $0)) }
        let frames = try Self.frames(avatar, seed: 3, interruptAfter: 2)
        #expect(frames.count > 140, "\(frames.count) frames (the interruption drops the audio it had buffered)")
        let process = EyeMotionProcess(config: config, fps: avatar.fps, seed: 3)
        for frame in frames {
            let v = process.values(frame: frame.index)
            #expect(columns.map { frame.coefficients[$0] } == [v.blinkLeft, v.blinkRight, v.eyesLeft, v.eyesUp], "frame \(frame.index)")
        }
        let blinkColumn = columns[0]
        #expect(frames.contains { $0.coefficients[blinkColumn] == 1 }, "a blink within 7 s")
        // Another seed, another sequence; the same seed, the same eyes.
        #expect(try Self.frames(avatar, seed: 4).map { $0.coefficients[blinkColumn] } != frames.map { $0.coefficients[blinkColumn] })
    }

    @Test func withoutEyeMotionTheModelKeepsTheEyesAndBadKeysAreRefused() throws {
        let plain = try Self.demoCopy { $0.removeValue(forKey: "eye_motion") }
        let misspelt = try Self.demoCopy { $0["eye_motion"] = ["blink_interval": [2, 6]] }
        defer { for url in [plain, misspelt] { try? FileManager.default.removeItem(at: url) } }
        let bundle = try AvatarBundle(directory: plain, supportedKinds: ModelKind.supported)
        #expect(bundle.manifest.eyeMotion == nil)
        let avatar = try #require(try AvatarFactory.makeAvatar(bundle, context: try Self.context.get()) as? BundleAvatar)
        let frames = try Self.frames(avatar, seed: 3)
        let blink = try #require(avatar.motionNames.firstIndex(of: "blink_left"))
        let process = EyeMotionProcess(config: EyeMotionConfig(), fps: avatar.fps, seed: 3)
        #expect(frames.contains { $0.coefficients[blink] != process.values(frame: $0.index).blinkLeft })

        let bad = try AvatarBundle(directory: misspelt, supportedKinds: ModelKind.supported)
        #expect { try AvatarFactory.makeAvatar(bad, context: try Self.context.get()) } throws: {
            ($0 as? BundleError).map { "\($0)".contains("'blink_interval'") } ?? false
        }
    }
}

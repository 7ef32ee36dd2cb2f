import AvatarBundle
import AvatarModels
import AvatarMotion
import AvatarStages
import Foundation
import Testing

/// The shipped demo's streaming defaults (`stream_context` "audio", look-ahead 1, the head pose's
/// `temperature_dims`) reach a session through `BundleAvatar.makeStages`: changing either key in a copy of the
/// bundle changes the session's frames, a session temperature of 0 makes the per-dimension scale irrelevant (and
/// leaves the context scheme's difference), and the output delay counts hop + look-ahead only.
@Suite(.serialized) struct DemoStreamingDefaultsTests {
    static func avatar(_ directory: URL) throws -> BundleAvatar {
        let bundle = try AvatarBundle(directory: directory, supportedKinds: ModelKind.supported)
        return try #require(try AvatarFactory.makeAvatar(bundle, context: try EyeMotionSessionTests.context.get()) as? BundleAvatar)
    }

    /// 2 s of the eye tests' syllable-like bursts in 1 s packets, then the end of the utterance.
    static func frames(_ avatar: BundleAvatar, temperature: Float? = nil) throws -> [[Float]] {
        let stages = try avatar.makeStages(options: SessionStageOptions(seed: 5, temperature: temperature))
        let audio = Array(EyeMotionSessionTests.audio[0..<32_000])
        var out: [MotionFrame] = []
        for start in stride(from: 0, to: audio.count, by: 16000) {
            out += try stages.motion.append(try stages.features.append(Array(audio[start..<(start + 16000)])))
        }
        out += try stages.motion.append(try stages.features.flush())
        out += try stages.motion.flush()
        return out.map(\.coefficients)
    }

    static func motionConfig(_ manifest: [String: Any]) -> [String: Any] {
        ((manifest["motion_model"] as? [String: Any])?["config"] as? [String: Any]) ?? [:]
    }

    static func editConfig(_ edit: @escaping (inout [String: Any]) -> Void) throws -> URL {
        try EyeMotionSessionTests.demoCopy { manifest in
            var model = manifest["motion_model"] as? [String: Any] ?? [:]
            var config = Self.motionConfig(manifest)
            edit(&config)
            model["config"] = config
            manifest["motion_model"] = model
        }
    }

    @Test func shippedSessionsUseTheAudioContextAndTheHeadTemperature() throws {
        let shipped = try Self.avatar(EyeMotionSessionTests.demo)
        let bundle = try AvatarBundle(directory: EyeMotionSessionTests.demo, supportedKinds: ModelKind.supported)
        let c = try ICSA2MConfig(manifest: bundle.manifest.motionModel?.config)
        #expect(c.streamingPlan == StreamingPlan(hop: 4, lookahead: 1, leftContext: 25, context: .audio))
        let head = ["head_pitch", "head_yaw", "head_roll"].compactMap { shipped.motionNames.firstIndex(of: $0) }
        #expect(c.temperatureDims == head && c.temperatureDimsScales.allSatisfy { abs($0 * c.temperature - 1) < 1e-3 })
        // hop 4 + look-ahead 1 frames at 25 fps, plus the log-mel front-end's own look-ahead; the context is past audio
        #expect(shipped.algorithmicLatencyMs - 200 >= 0 && shipped.algorithmicLatencyMs - 200 < 40, "\(shipped.algorithmicLatencyMs) ms")

        let motionContext = try Self.editConfig { $0["stream_context"] = "motion" }
        let oneTemperature = try Self.editConfig { $0.removeValue(forKey: "temperature_dims"); $0.removeValue(forKey: "temperature_dims_scale") }
        defer {
            try? FileManager.default.removeItem(at: motionContext)
            try? FileManager.default.removeItem(at: oneTemperature)
        }
        let viaMotion = try Self.avatar(motionContext), plain = try Self.avatar(oneTemperature)
        #expect(viaMotion.algorithmicLatencyMs == shipped.algorithmicLatencyMs)
        let frames = try Self.frames(shipped)
        #expect(frames.count == 50)
        func gap(_ x: [[Float]], _ y: [[Float]]) -> Double { maxAbsDiff(x.flatMap { $0 }, y.flatMap { $0 }) }
        let contextGap = gap(frames, try Self.frames(viaMotion)), temperatureGap = gap(frames, try Self.frames(plain))
        let cold = try Self.frames(shipped, temperature: 0)
        let coldPlainGap = gap(cold, try Self.frames(plain, temperature: 0)), coldContextGap = gap(cold, try Self.frames(viaMotion, temperature: 0))
        print("demo session vs stream_context motion: max |Δ| \(contextGap); vs no temperature_dims: \(temperatureGap); "
              + "at temperature 0: \(coldPlainGap) / \(coldContextGap)")
        #expect(contextGap > 1e-3 && temperatureGap > 1e-3)
        #expect(coldPlainGap == 0, "temperature 0 is deterministic whatever the per-dimension scale")
        #expect(coldContextGap > 1e-3)
    }
}

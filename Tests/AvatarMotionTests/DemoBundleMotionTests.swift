import AvatarBundle
import AvatarMotion
import AvatarStages
import Foundation
import Testing

/// The bundle-level API on the shipped demo bundle (Avatars/demo, trained log-mel ICS-A2M): model, style prompt
/// and a session's front-end + motion stage, audio in, one motion frame per 40 ms out.
@Suite(.serialized) struct DemoBundleMotionTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Avatars/demo")
    static let kinds: [String: Set<String>] = ["audio_frontend": ["log_mel"], "motion_model": ["ics_a2m"],
                                               "face_model": ["avatard_face"], "renderer": ["raster_preview"], "identity": []]

    @Test(.enabled(if: FileManager.default.fileExists(atPath: directory.appendingPathComponent("manifest.json").path)))
    func demoBundleDrivesASession() throws {
        let (device, ops) = try MotionGPU.get()
        let bundle = try AvatarBundle(directory: Self.directory, supportedKinds: Self.kinds)
        let frontEnd = LogMelFrontEnd(config: try LogMelConfig(manifest: bundle.manifest.audioFrontend?.config))
        let model = try ICSA2MModel(bundle: bundle, device: device, ops: ops)
        let c = model.config
        #expect(c.audioDim == frontEnd.config.melBands)
        let styleName = try #require(bundle.manifest.defaultStyle ?? bundle.styleNames.first)
        let style = try StylePrompt(bundle: bundle, style: styleName, model: model, frontEnd: frontEnd)
        #expect(style.features.count == 2 * style.frames * c.audioDim && style.motion.count == style.frames * c.motionDim)
        #expect(throws: MotionModelError.self) { try StylePrompt(bundle: bundle, style: "no-such-style", model: model, frontEnd: frontEnd) }

        let features = LogMelFeatureStage(frontEnd: frontEnd)
        let motion = A2MMotionStage(model: model, style: style, options: SessionStageOptions(seed: 1), silenceRow: frontEnd.silenceRow)
        #expect(motion.plan.leftContext == c.streamLeftContext)
        // 0.4 s of silence, 0.8 s of a voiced, syllable-modulated tone, 20 ms packets; then end of utterance.
        let wave: [Float] = (0..<19200).map { i in
            guard i >= 6400 else { return 0 }
            let t = Double(i) / 16000
            let envelope = 0.5 - 0.5 * cos(2 * Double.pi * 4 * t)
            return Float(0.3 * envelope * (sin(2 * Double.pi * 150 * t) + 0.5 * sin(2 * Double.pi * 450 * t)))
        }
        var frames: [MotionFrame] = []
        for start in stride(from: 0, to: wave.count, by: 320) {
            let rows = try features.append(Array(wave[start..<min(start + 320, wave.count)]))
            if !rows.isEmpty { frames += try motion.append(rows) }
        }
        frames += try motion.append(try features.flush())
        frames += try motion.flush()
        #expect(frames.count == 30)  // 1.2 s at 25 fps
        #expect(frames.map(\.index) == Array(0..<30))
        #expect(frames.allSatisfy { $0.isFinite && $0.coefficients.count == c.motionDim })
    }
}

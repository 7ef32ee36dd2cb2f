import AvatarMotion
import AvatarStages
import Foundation
import Testing

/// The full-window front-end (`HuBERTUtteranceStage`) and the full-window padding of `A2MMotionStage`
/// (docs/motion.md §2.4), on the tiny fixture models. The whole path against the reference is
/// `FullWindowParityTests` (AvatarModelsTests).
@Suite(.serialized) struct HuBERTUtteranceStageTests {
    static func wave(_ n: Int, seed: Double = 1) -> [Float] {
        (0..<n).map { i -> Float in
            let t = Double(i)
            let envelope: Double = 0.5 + 0.5 * sin(t / 900)
            return Float(0.3 * sin(t * 0.031 * seed) * envelope)
        }
    }

    @Test func rowsAreUtteranceModeAtFlushOnly() throws {
        let encoder = try HuBERTParityTests.encoder(.tiny(stable: true))
        let stage = HuBERTUtteranceStage(encoder: encoder)
        #expect(stage.dimension == 24 && stage.rowsPerSecond == 50)
        let x = Self.wave(640 * 9)
        // Nothing is final before the end of the utterance, however the audio is cut.
        for start in stride(from: 0, to: x.count, by: 700) {
            #expect(try stage.append(Array(x[start..<min(x.count, start + 700)])).isEmpty)
        }
        #expect(stage.bufferedSamples == x.count)
        let rows = try stage.flush()
        // Upstream's 17 rows, then one zero row: 2 per 40 ms frame.
        let upstream = try encoder.utteranceFeatures(x, padded: false)
        #expect(upstream.count == 17 && rows.count == 18)
        #expect(Array(rows.values.prefix(17 * 24)) == upstream.values)
        #expect(rows.values[(17 * 24)...].allSatisfy { $0 == 0 })
        // Flush ended the utterance: the buffer is empty and a second flush gives nothing.
        let again = try stage.flush()
        #expect(stage.bufferedSamples == 0 && again.isEmpty)
    }

    @Test func resetForgetsTheUtteranceAndShortAudioGetsZeroRows() throws {
        let encoder = try HuBERTParityTests.encoder(.tiny(stable: true))
        let stage = HuBERTUtteranceStage(encoder: encoder)
        _ = try stage.append(Self.wave(5000, seed: 3))
        stage.reset()
        #expect(stage.bufferedSamples == 0)
        let y = Self.wave(640 * 5)
        _ = try stage.append(y)
        let afterReset = try stage.flush()
        _ = try stage.append(y)
        let fresh = try stage.flush()
        #expect(fresh == afterReset)
        // Fewer samples than one receptive field (325 here): upstream has no rows; the session still gets
        // ⌈N / 320⌉ rows (zeros) so its frames cover the audio.
        _ = try stage.append(Self.wave(300))
        let short = try stage.flush()
        #expect(short.count == 1 && short.values.allSatisfy { $0 == 0 })
    }

    /// With `padRowsMultiple` the sample covers zero rows up to the multiple, as sampling the explicitly padded
    /// rows does, and only the utterance's frames come out.
    @Test func fullWindowPadsRowsAndEmitsTheUtterancesFrames() throws {
        let runner = try ICSA2MParityTests.load("a2m_tiny")
        let a = runner.model.config.audioDim
        let features = Array(try MotionFixtures.file("a2m_tiny").tensor("io.input.features").floats().prefix(2 * 13 * a))
        func stage(_ pad: Int) -> A2MMotionStage {
            A2MMotionStage(runner: runner, style: .none, sampler: A2MSampler(steps: 3, cfgScale: 1.5, temperature: 0.5),
                           plan: StreamingPlan(hop: 4, lookahead: 2, leftContext: 0), seed: 11,
                           silenceRow: [Float](repeating: 0, count: a), fullWindow: true, padRowsMultiple: pad)
        }
        let padded = stage(8)
        let early = try padded.append(FeatureRows(dimension: a, values: features))
        #expect(early.isEmpty)
        let got = try padded.flush()
        #expect(got.map(\.index) == Array(0..<13))
        // 13 frames → 26 rows → 32 rows (16 frames) sampled.
        let explicit = stage(1)
        let all = try explicit.append(FeatureRows(dimension: a, values: features + [Float](repeating: 0, count: 6 * a)))
            + explicit.flush()
        #expect(all.count == 16)
        #expect(got.map(\.coefficients) == all.prefix(13).map(\.coefficients))
        // Without padding the sample differs (attention spans the zero rows).
        let unpadded = stage(1)
        let plain = try unpadded.append(FeatureRows(dimension: a, values: features)) + unpadded.flush()
        #expect(maxAbsDiff(plain.flatMap(\.coefficients), got.flatMap(\.coefficients)) > 1e-3)
    }
}

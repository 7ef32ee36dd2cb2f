import AvatarFormats
import AvatarMotion
import AvatarStages
import Foundation
import Testing

/// The log-mel front-end against the reference (float64 DFT and sums, one rounding, like the reference):
/// measured bit-identical on x86-64 glibc; the tolerance 2e-6 absolute leaves room for other libm's log/cos
/// (docs/motion.md §1.2 expects ~1e-4 of a float32 port).
struct LogMelTests {
    static let frontEnd = LogMelFrontEnd(config: LogMelConfig())

    @Test func matchesTheReferenceOnSpeechLikeAudioAndSilence() throws {
        let wave = try SafeTensorsFile(url: MotionFixtures.directory.appendingPathComponent("hubert_tiny.safetensors"))
            .tensor("io.wave").floats()
        let io = try MotionFixtures.file("log_mel")
        let got = Self.frontEnd.features(wave)
        let want = try io.tensor("io.log_mel").floats()
        #expect(got.count == want.count)
        print("log_mel io.log_mel: max abs error \(maxAbsDiff(got, want)) (tolerance 2e-6)")
        #expect(maxAbsDiff(got, want) <= 2e-6)
        let silence = Self.frontEnd.features([Float](repeating: 0, count: 1200))
        #expect(maxAbsDiff(silence, try io.tensor("io.log_mel_silence").floats()) <= 2e-6)
        #expect(silence == Array([[Float]](repeating: Self.frontEnd.silenceRow, count: 3).joined()))
        #expect(abs(silence[0] - Float(Foundation.log(1e-10))) < 1e-4)
    }

    @Test func streamingRowsEqualUtteranceRowsWhateverTheChunking() throws {
        let wave: [Float] = (0..<7000).map { i in
            let x = Double(i)
            let a: Double = sin(x * 0.05) * 0.3
            let b: Double = sin(x * 0.31) * 0.1
            return Float(a + b)
        }
        let whole = Self.frontEnd.features(wave)
        let stage = LogMelFeatureStage(frontEnd: Self.frontEnd)
        var rows = FeatureRows(dimension: 80)
        var i = 0
        for size in [1, 333, 17, 640, 2000, 5000] where i < wave.count {
            let j = min(wave.count, i + size)
            rows.append(try stage.append(Array(wave[i..<j])))
            i = j
        }
        #expect(rows.count == Self.frontEnd.config.frames(samples: wave.count))
        #expect(rows.values == whole)
        // Flush pads the tail: one row per 320 samples of audio in total.
        rows.append(try stage.flush())
        #expect(rows.count == (7000 + 319) / 320)
    }

    @Test func configRejectsVariantsItDoesNotImplement() throws {
        #expect(throws: MotionModelError.self) { try LogMelConfig(manifest: ["mel_scale": .string("slaney")]) }
        #expect(throws: MotionModelError.self) { try LogMelConfig(manifest: ["sample_rate": .number(22050)]) }
        #expect(try LogMelConfig(manifest: ["n_mels": .number(80)]) == LogMelConfig())
    }
}

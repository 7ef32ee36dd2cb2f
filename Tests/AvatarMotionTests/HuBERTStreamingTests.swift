import AvatarMotion
import AvatarOperators
import AvatarStages
import AvatarVulkan
import Foundation
import Testing

/// The streaming HuBERT stage (docs/motion.md §1.3) on the tiny fixture configuration with recipe weights.
@Suite(.serialized) struct HuBERTStreamingTests {
    static func encoder() throws -> HuBERTEncoder {
        let (device, ops) = try MotionGPU.get()
        return HuBERTEncoder(weights: try HuBERTWeights(recipeFor: .tiny(stable: true), device: device), ops: ops)
    }

    /// Speech-like test audio: a gliding harmonic tone with a syllable-rate envelope, a pause, and hashed noise.
    static func speech(_ n: Int) -> [Float] {
        let noise = RecipeWeights.generate(name: "test.hubert.stream", count: n, scale: 1)
        var phase = 0.0
        var out: [Float] = []
        for i in 0..<n {
            let t = Double(i) / 16000
            let f0: Double = 140 + 40 * sin(2 * Double.pi * 1.5 * t)
            phase += 2 * Double.pi * f0 / 16000
            let s = sin(2 * Double.pi * 4 * t)
            let envelope: Double = (t > 2.0 && t < 2.5) ? 0 : 0.5 + 0.5 * s * s
            var tone = 0.0
            for k in 1...5 { tone += sin(Double(k) * phase) / Double(k) }
            out.append(Float(0.25 * envelope * tone + 0.02 * Double(noise[i])))
        }
        return out
    }

    func feed(_ stage: HuBERTFeatureStage, _ wave: [Float], packet: Int) throws -> FeatureRows {
        var out = FeatureRows(dimension: stage.dimension)
        var i = 0
        while i < wave.count {
            out.append(try stage.append(Array(wave[i..<min(wave.count, i + packet)])))
            i += packet
        }
        out.append(try stage.flush())
        return out
    }

    @Test func oneWindowOverTheWholeUtteranceEqualsUtteranceMode() throws {
        let encoder = try Self.encoder()
        let rows = 30
        let wave = Self.speech(encoder.config.samples(rows: rows))
        let stage = try HuBERTFeatureStage(encoder: encoder, window: .init(leftContext: 0, hop: rows, lookahead: 0))
        var got = FeatureRows(dimension: stage.dimension)
        for start in stride(from: 0, to: wave.count, by: 777) {
            got.append(try stage.append(Array(wave[start..<min(wave.count, start + 777)])))
        }
        let want = try encoder.utteranceFeatures(wave, padded: false)
        #expect(got.count == rows && want.count == rows)
        #expect(got.values == want.values)
    }

    @Test func packetisationDoesNotChangeTheRowsAndFlushCoversAllAudio() throws {
        let encoder = try Self.encoder()
        let wave = Self.speech(16000 + 123)
        let window = HuBERTFeatureStage.Window(leftContext: 20, hop: 4, lookahead: 2)
        let a = try feed(try HuBERTFeatureStage(encoder: encoder, window: window), wave, packet: 320)
        let stage = try HuBERTFeatureStage(encoder: encoder, window: window)
        let b = try feed(stage, wave, packet: 1111)
        #expect(a.count == (wave.count + 319) / 320)
        #expect(a == b)
        // After flush (a reset) the stage starts over.
        let c = try feed(stage, wave, packet: 4000)
        #expect(c == a)
        #expect(try stage.flush().isEmpty)
    }

    /// The deviation from utterance mode (RMS over all rows / std of the utterance features) stays well
    /// below the spread of the features; the figure for docs/motion.md §1.3 comes from this comparison.
    @Test func streamingStaysCloseToUtteranceMode() throws {
        let encoder = try Self.encoder()
        let wave = Self.speech(16000 * 6)
        let stage = try HuBERTFeatureStage(encoder: encoder)
        let stream = try feed(stage, wave, packet: 640)
        let offline = try encoder.utteranceFeatures(wave, padded: false)
        let n = offline.values.count
        let diff = zip(stream.values.prefix(n), offline.values).map { Double($0 - $1) * Double($0 - $1) }
        let rms = (diff.reduce(0, +) / Double(n)).squareRoot()
        let mean = offline.values.map(Double.init).reduce(0, +) / Double(n)
        let std = (offline.values.map { (Double($0) - mean) * (Double($0) - mean) }.reduce(0, +) / Double(n)).squareRoot()
        let relative = rms / std
        print("HuBERT tiny streaming vs utterance: relative RMS error \(relative) (window \(stage.window))")
        #expect(relative < 0.25, "relative error \(relative)")
    }
}

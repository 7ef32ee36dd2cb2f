import AvatarMotion
import AvatarOperators
import AvatarStages
import AvatarVulkan
import Foundation
import Testing

/// Opt-in (AVATARD_MEASURE_HUBERT=1; minutes on lavapipe): the figures of docs/motion.md §1.3 for
/// HuBERT-large with recipe weights: one streaming window's time and the streaming-vs-utterance deviation.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["AVATARD_MEASURE_HUBERT"] == "1"))
struct HuBERTLargeMeasurementTests {
    @Test func hubertLargeStreamingFigures() throws {
        let (device, ops) = try MotionGPU.get()
        let seconds = Double(ProcessInfo.processInfo.environment["AVATARD_MEASURE_HUBERT_SECONDS"] ?? "4") ?? 4
        let start = Date()
        // AVATARD_MEASURE_HUBERT_LAYERS: fewer layers for a quick per-step profile.
        var config = HuBERTConfig()
        if let layers = ProcessInfo.processInfo.environment["AVATARD_MEASURE_HUBERT_LAYERS"].flatMap({ Int($0) }) {
            config.numLayers = layers
        }
        let encoder = HuBERTEncoder(weights: try HuBERTWeights(recipeFor: config, device: device), ops: ops)
        encoder.timestamps = true
        print("HuBERT-large recipe weights: \(Date().timeIntervalSince(start)) s")
        // AVATARD_MEASURE_HUBERT_WINDOW="left,hop,lookahead" (rows) overrides the standard window.
        var window = HuBERTFeatureStage.Window.standard
        if let spec = ProcessInfo.processInfo.environment["AVATARD_MEASURE_HUBERT_WINDOW"] {
            let v = spec.split(separator: ",").compactMap { Int($0) }
            try #require(v.count == 3, "AVATARD_MEASURE_HUBERT_WINDOW must be left,hop,lookahead")
            window = .init(leftContext: v[0], hop: v[1], lookahead: v[2])
        }
        let bench = try HuBERTBenchmark.streamingWindow(encoder: encoder, window: window, repeats: 3)
        var perKind: [String: Double] = [:]
        for (label, seconds) in encoder.lastStepTimings(samples: bench.samples) {
            let parts = label.split(separator: "/")
            let kind = parts.first?.hasPrefix("layer") == true ? parts.dropFirst().joined(separator: "/") : label
            perKind[kind, default: 0] += seconds
        }
        print("GPU time by step kind: " + perKind.sorted { $0.value > $1.value }.map { "\($0.key) \(String(format: "%.3f", $0.value))" }.joined(separator: ", "))
        print("HuBERT-large window \(bench.rows) rows: \(bench.seconds) s (runs \(bench.runs), plan+warm-up \(bench.setupSeconds) s, real-time factor \(bench.realTimeFactor))")

        if seconds <= 0 { return }
        let wave = HuBERTStreamingTests.speech(Int(seconds * 16000))
        let offline = try encoder.utteranceFeatures(wave, padded: false)
        let stage = try HuBERTFeatureStage(encoder: encoder, window: window)
        var stream = FeatureRows(dimension: stage.dimension)
        for i in stride(from: 0, to: wave.count, by: 640) {
            stream.append(try stage.append(Array(wave[i..<min(wave.count, i + 640)])))
        }
        stream.append(try stage.flush())
        let h = stage.dimension, n = offline.count
        func relative(_ rows: Range<Int>) -> Double {
            let a = stream.values[(rows.lowerBound * h)..<(rows.upperBound * h)].map(Double.init)
            let b = offline.values[(rows.lowerBound * h)..<(rows.upperBound * h)].map(Double.init)
            let rms = (zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Double(a.count)).squareRoot()
            let mean = b.reduce(0, +) / Double(b.count)
            let std = (b.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(b.count)).squareRoot()
            return rms / std
        }
        let all = relative(0..<n), early = relative(0..<min(n, 50)), late = relative(min(n - 1, 100)..<n)
        print("HuBERT-large streaming vs utterance (\(seconds) s, window \(stage.window)): relative RMS all \(all), first 1 s \(early), after 2 s \(late)")
        #expect(all.isFinite && all < 1)
    }
}

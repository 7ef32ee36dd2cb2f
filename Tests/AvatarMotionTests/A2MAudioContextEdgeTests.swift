import AvatarFormats
import AvatarMotion
import AvatarStages
import Foundation
import Testing

/// Edge cases of the audio context (`StreamingPlan.Context.audio`) on the tiny fixture model: no left context,
/// the full window, interruptions (context, noise rows, fade), the padded context, short tails at `flush`, chunking.
@Suite(.serialized) struct A2MAudioContextEdgeTests {
    /// The stage of `A2MMotionStageTests` with the audio context by default.
    static func stage(_ runner: ICSA2MRunner, temperature: Float = 0.5, leftContext: Int = 8, context: StreamingPlan.Context = .audio,
                      padded: Bool = true, noise: MotionNoise? = nil) throws -> A2MMotionStage {
        try A2MMotionStageTests.stage(runner, temperature: temperature, leftContext: leftContext, context: context, padded: padded,
                                      noise: noise)
    }

    static func features() throws -> [Float] { try MotionFixtures.file("a2m_tiny").tensor("io.input.features").floats() }

    /// Without left context the two schemes are the same window.
    @Test func noLeftContextIsTheMotionScheme() throws {
        let runner = try ICSA2MParityTests.load("a2m_tiny")
        let a = runner.model.config.audioDim
        let f = try Self.features()
        for padded in [true, false] {
            let audio = try Self.stage(runner, leftContext: 0, padded: padded)
            let motion = try Self.stage(runner, leftContext: 0, context: .motion, padded: padded)
            let x = try audio.append(FeatureRows(dimension: a, values: f)) + audio.flush()
            let y = try motion.append(FeatureRows(dimension: a, values: f)) + motion.flush()
            #expect(x.count == 16 && x == y)
        }
    }

    /// The full window has no left context: the scheme does not change it.
    @Test func fullWindowIgnoresTheScheme() throws {
        let runner = try ICSA2MParityTests.load("a2m_tiny")
        let c = runner.model.config
        let f = try Self.features()
        let io = try MotionFixtures.file("a2m_tiny")
        let styleMotion = try io.tensor("io.input.style_motion").floats()
        let style = StylePrompt(motion: styleMotion, features: try io.tensor("io.input.style_features").floats(),
                                frames: styleMotion.count / c.motionDim)
        let frames = try [StreamingPlan.Context.audio, .motion].map { context in
            let stage = A2MMotionStage(runner: runner, style: style, sampler: A2MSampler(steps: 4, cfgScale: 1.5, temperature: 0.5),
                                       plan: StreamingPlan(hop: 4, lookahead: 2, leftContext: 8, context: context), seed: 7,
                                       silenceRow: [Float](repeating: A2MMotionStageTests.silence, count: c.audioDim), fullWindow: true)
            return try stage.append(FeatureRows(dimension: c.audioDim, values: f)) + stage.flush()
        }
        #expect(frames[0].count == 16 && frames[0] == frames[1])
    }

    /// After an interruption the window restarts from silence (padded) or from nothing (unpadded), and frame f
    /// keeps noise row f: from the 5th frame on the output equals a fresh stage fed the same audio whose noise
    /// table starts at the interrupted stage's frame count.
    @Test func interruptRestartsTheContextAndKeepsTheNoiseRows() throws {
        let runner = try ICSA2MParityTests.load("a2m_tiny")
        let a = runner.model.config.audioDim, m = runner.model.config.motionDim
        let f = try Self.features()
        let seeded = MotionNoise(seed: 7, dimension: m)
        for padded in [true, false] {
            let talking = try Self.stage(runner, padded: padded)
            let before = try talking.append(FeatureRows(dimension: a, values: f))
            #expect(before.count == 12)
            talking.interrupt(lastRendered: before.last)
            let after = try talking.append(FeatureRows(dimension: a, values: f)) + talking.flush()
            #expect(after.map(\.index) == Array(12..<28))
            let fresh = try Self.stage(runner, padded: padded, noise: MotionNoise(recorded: (12..<40).flatMap { seeded.row($0) }, dimension: m))
            let want = try fresh.append(FeatureRows(dimension: a, values: f)) + fresh.flush()
            let d = maxAbsDiff(after[4...].flatMap(\.coefficients), want[4...].flatMap(\.coefficients))
            print("audio context, padded \(padded): after an interruption vs a fresh stage: max |Δ| \(d)")
            #expect(d == 0)
            #expect(maxAbsDiff(after[0].coefficients, want[0].coefficients) > 1e-4, "the first frame is faded")
        }
    }

    /// The daemon's padded audio context is the reference's window on audio preceded by `leftContext` frames of
    /// silence with zero noise rows: with a left context that is a multiple of the hop, the unpadded stage (the
    /// one checked against `sample_streaming`) on silence ‖ audio with noise zeros ‖ noise emits, after the
    /// silence, the padded stage's frames.
    @Test func paddedContextIsSilenceWithZeroNoise() throws {
        let runner = try ICSA2MParityTests.load("a2m_tiny")
        let a = runner.model.config.audioDim, m = runner.model.config.motionDim
        let f = try Self.features()
        let rows = (0..<40).flatMap { MotionNoise(seed: 9, dimension: m).row($0) }
        let padded = try Self.stage(runner, noise: MotionNoise(recorded: rows, dimension: m))
        let got = try padded.append(FeatureRows(dimension: a, values: f))
        let unpadded = try Self.stage(runner, padded: false, noise: MotionNoise(recorded: [Float](repeating: 0, count: 8 * m) + rows, dimension: m))
        let silence = [Float](repeating: A2MMotionStageTests.silence, count: 16 * a)
        let want = try unpadded.append(FeatureRows(dimension: a, values: silence + f))
        #expect(got.count == 12 && want.count == 20)
        let d = maxAbsDiff(got.flatMap(\.coefficients), want[8...].flatMap(\.coefficients))
        print("padded audio context vs the unpadded stage after 8 frames of silence with zero noise: max |Δ| \(d)")
        #expect(d < 1e-6)
    }

    /// A short tail: the padded stage samples one planned window (silence after the tail) and emits the tail's
    /// frames only; the unpadded one a shorter window. Either way every frame comes out once.
    @Test func shortTailsAreFlushed() throws {
        let runner = try ICSA2MParityTests.load("a2m_tiny")
        let a = runner.model.config.audioDim
        let f = try Self.features()
        for tail in 1...7 {
            for padded in [true, false] {
                let stage = try Self.stage(runner, padded: padded)
                let rows = Array(f[0..<((4 + tail) * 2 * a)])
                let frames = try stage.append(FeatureRows(dimension: a, values: rows)) + stage.flush()
                #expect(frames.map(\.index) == Array(0..<(4 + tail)), "tail \(tail), padded \(padded)")
                #expect(frames.allSatisfy { $0.isFinite })
            }
        }
    }

    /// The padded audio context gives the same session whatever the chunking (odd rows included).
    @Test func chunkingDoesNotMatter() throws {
        let runner = try ICSA2MParityTests.load("a2m_tiny")
        let a = runner.model.config.audioDim
        let f = try Self.features() + Self.features()
        let whole = try Self.stage(runner)
        let reference = try whole.append(FeatureRows(dimension: a, values: f)) + whole.flush()
        for size in [1, 3, 7, 13] {
            let chunked = try Self.stage(runner)
            var frames: [MotionFrame] = []
            for r in stride(from: 0, to: f.count / a, by: size) {
                frames += try chunked.append(FeatureRows(dimension: a, values: Array(f[(r * a)..<(min(r + size, f.count / a) * a)])))
            }
            frames += try chunked.flush()
            #expect(frames == reference, "chunks of \(size) rows")
        }
    }
}

import AvatarFormats
import AvatarMotion
import AvatarStages
import Foundation
import Testing

/// Session behaviour of the motion stage on the tiny fixture model: idle motion on silence, the interrupt
/// cross-fade, session options, seeded noise, chunking invariance.
@Suite(.serialized) struct A2MMotionStageTests {
    static let silence: Float = -23.025850  // ln(1e-10): the log-mel row of digital silence

    static func stage(_ runner: ICSA2MRunner, temperature: Float, seed: UInt64 = 7, leftContext: Int = 8,
                      context: StreamingPlan.Context = .motion, padded: Bool = true, noise: MotionNoise? = nil) throws -> A2MMotionStage {
        let c = runner.model.config
        let io = try MotionFixtures.file("a2m_tiny")
        let styleMotion = try io.tensor("io.input.style_motion").floats()
        let style = StylePrompt(motion: styleMotion, features: try io.tensor("io.input.style_features").floats(),
                                frames: styleMotion.count / c.motionDim)
        return A2MMotionStage(runner: runner, style: style, sampler: A2MSampler(steps: 4, cfgScale: 1.5, temperature: temperature),
                              plan: StreamingPlan(hop: 4, lookahead: 2, leftContext: leftContext, context: context), seed: seed,
                              silenceRow: [Float](repeating: silence, count: c.audioDim), paddedContext: padded, noise: noise)
    }

    static func silenceRows(_ frames: Int, _ a: Int) -> FeatureRows {
        FeatureRows(dimension: a, values: [Float](repeating: silence, count: 2 * frames * a))
    }

    /// Silence in gives finite, moving idle motion (the model on silence features), one frame per 2 rows.
    @Test func silenceGivesIdleMotionThatIsNotFrozen() throws {
        let runner = try ICSA2MParityTests.load("a2m_tiny")
        let a = runner.model.config.audioDim, m = runner.model.config.motionDim
        let stage = try Self.stage(runner, temperature: 0.5)
        var frames = try stage.append(Self.silenceRows(20, a))
        #expect(frames.count == 16)  // windows of 6 frames emit 4; the last 4 frames wait for look-ahead
        frames += try stage.flush()
        #expect(frames.count == 20 && frames.allSatisfy(\.isFinite))
        // Frame-to-frame change: the face moves.
        let steps = (1..<frames.count).map { maxAbsDiff(frames[$0].coefficients, frames[$0 - 1].coefficients) }
        #expect(steps.allSatisfy { $0 > 1e-4 }, "\(steps)")
        #expect(frames[0].coefficients.count == m)
        // One planned network for the whole session (padded context: every window has the same length).
        #expect(runner.plannedNetworks == 2)
    }

    /// A temperature-0 stage talks on the tiny fixture's features, is interrupted with the pose `onScreen` picks
    /// from what it emitted, then hears 14 rows of silence; `idle` is a fresh stage on the same silence.
    static func interrupted(onScreen: ([MotionFrame]) -> MotionFrame?) throws
        -> (before: [MotionFrame], after: [MotionFrame], idle: [MotionFrame]) {
        let runner = try ICSA2MParityTests.load("a2m_tiny")
        let a = runner.model.config.audioDim
        let features = try MotionFixtures.file("a2m_tiny").tensor("io.input.features").floats()
        let talking = try stage(runner, temperature: 0)
        let before = try talking.append(FeatureRows(dimension: a, values: features))
        talking.interrupt(lastRendered: onScreen(before))
        let after = try talking.append(silenceRows(14, a))
        let idle = try stage(runner, temperature: 0).append(silenceRows(14, a))
        return (before, after, idle)
    }

    /// After `interrupt()` the next frames blend from the last emitted frame into the model's idle output and
    /// equal it from the 5th frame on (200 ms at 25 fps). At temperature 0 the idle output does not depend on
    /// the noise, so a fresh stage fed the same silence gives the target frames.
    @Test func interruptBlendsIntoIdleWithinFiveFrames() throws {
        let (before, after, idle) = try Self.interrupted { _ in nil }
        #expect(before.count == 12)
        #expect(after.count == 12 && idle.count == 12)
        #expect(after.map(\.index) == Array(12..<24))
        let last = before.last!.coefficients
        for i in 0..<A2MMotionStage.interruptFadeFrames {
            let w = Float(0.5 - 0.5 * cos(Double.pi * Double(i + 1) / 5))
            let want = zip(last, idle[i].coefficients).map { $0 + ($1 - $0) * w }
            #expect(maxAbsDiff(after[i].coefficients, want) < 1e-5, "frame \(i) after the interrupt")
        }
        for i in 4..<after.count { #expect(after[i].coefficients == idle[i].coefficients, "frame \(i) after the interrupt") }
    }

    /// The session passes the pose on screen (frames the stage emitted after it were dropped): the blend
    /// starts there, not from the stage's last emitted frame.
    @Test func interruptBlendsFromThePoseOnScreen() throws {
        let (before, after, idle) = try Self.interrupted { $0[3] }
        let onScreen = before[3]
        let w = Float(0.5 - 0.5 * cos(Double.pi / 5))
        let want = zip(onScreen.coefficients, idle[0].coefficients).map { $0 + ($1 - $0) * w }
        #expect(maxAbsDiff(after[0].coefficients, want) < 1e-5)
        #expect(maxAbsDiff(onScreen.coefficients, before.last!.coefficients) > 1e-3, "the test needs distinct poses")
    }

    /// Session options override the bundle defaults; the plan comes from the bundle config.
    @Test func sessionOptionsOverrideBundleDefaults() throws {
        let runner = try ICSA2MParityTests.load("a2m_tiny")
        var config = try MotionFixtures.manifestConfig("a2m_tiny")
        config["sampler"] = .object(["steps": .number(6), "cfg_scale": .number(2), "temperature": .number(0.25)])
        config["stream_left_context"] = .number(12)
        let c = try ICSA2MConfig(manifest: config)
        #expect(c.steps == 6 && c.cfgScale == 2 && c.temperature == 0.25 && c.streamLeftContext == 12 && c.streamHop == 4)
        let stage = A2MMotionStage(model: runner.model, style: .none, options: SessionStageOptions(seed: 3, temperature: 0.1, steps: 3),
                                   silenceRow: [Float](repeating: Self.silence, count: c.audioDim))
        #expect(stage.sampler.steps == 3 && stage.sampler.temperature == 0.1 && stage.sampler.cfgScale == runner.model.config.cfgScale)
        #expect(stage.plan == StreamingPlan(hop: 4, lookahead: 2, leftContext: 40) && !stage.fullWindow)
        let full = A2MMotionStage(model: runner.model, style: .none, options: SessionStageOptions(fullWindow: true),
                                  silenceRow: [Float](repeating: Self.silence, count: c.audioDim))
        #expect(full.fullWindow)
    }

    /// Per-dimension temperature (`temperature_dims`, `temperature_dims_scale`): the listed dimensions start
    /// from noise × temperature × scale, so a sample equals one with that noise column scaled (×2 is exact);
    /// a session's temperature override keeps the scale; bad lists are refused with their key.
    @Test func perDimensionTemperatureScalesTheNoise() throws {
        let (runner, _, style, noise, features) = try ICSA2MParityTests.streamingInputs()
        let c0 = runner.model.config, m = c0.motionDim
        var config = try MotionFixtures.manifestConfig("a2m_tiny")
        config["temperature_dims"] = .array([.number(0), .number(2)])
        config["temperature_dims_scale"] = .number(2)
        let c = try ICSA2MConfig(manifest: config)
        #expect(c.temperatureDims == [0, 2] && c.temperatureDimsScales == [2, 2])
        #expect(c.temperatureScale == (0..<m).map { [0, 2].contains($0) ? 2 : 1 })
        let scaled = A2MSampler(config: c, options: SessionStageOptions(temperature: 0.5))
        #expect(scaled.temperature == 0.5 && scaled.temperatureScale == c.temperatureScale)
        let plain = A2MSampler(steps: scaled.steps, cfgScale: scaled.cfgScale, temperature: 0.5)
        let targetNoise = Array(noise[style.motion.count...])
        var doubled = targetNoise
        for k in doubled.indices where [0, 2].contains(k % m) { doubled[k] *= 2 }
        let a = try scaled.sample(runner: runner, promptMotion: style.motion, promptFeatures: style.features, features: features, noise: targetNoise)
        let b = try plain.sample(runner: runner, promptMotion: style.motion, promptFeatures: style.features, features: features, noise: doubled)
        let c1 = try plain.sample(runner: runner, promptMotion: style.motion, promptFeatures: style.features, features: features, noise: targetNoise)
        #expect(a == b)
        #expect(maxAbsDiff(a, c1) > 1e-4, "the scale changes the sample")
        for (bad, words) in [(JSONValue.array([.number(Double(m))]), "indices 0…"), (.array([.number(1), .number(1)]), "twice"),
                             (.number(3), "array")] {
            var broken = config
            broken["temperature_dims"] = bad
            #expect(throws: MotionModelError.self) { _ = try ICSA2MConfig(manifest: broken) }
            do { _ = try ICSA2MConfig(manifest: broken) } catch let e as MotionModelError {
                #expect(e.message.contains("config.temperature_dims") && e.message.contains(words), "\(e.message)")
            }
        }
        var perDimension = config
        perDimension["temperature_dims_scale"] = .array([.number(3), .number(0.5)])
        #expect(try ICSA2MConfig(manifest: perDimension).temperatureScale == (0..<m).map { $0 == 0 ? 3 : $0 == 2 ? 0.5 : 1 })
        for bad in [JSONValue.number(-1), .array([.number(1)]), .array([.number(1), .number(-2)]), .string("2")] {
            var broken = config
            broken["temperature_dims_scale"] = bad
            do {
                _ = try ICSA2MConfig(manifest: broken)
                Issue.record("temperature_dims_scale \(bad) was accepted")
            } catch let e as MotionModelError {
                #expect(e.message.contains("temperature_dims_scale"), "\(e.message)")
            }
        }
    }

    /// The audio context feeds nothing back: two sessions whose audio differs only more than left context +
    /// window frames ago emit identical frames, where the motion context still carries the difference (the
    /// daemon's padded windows, the same seed). `stream_context` is read from the config, anything else refused.
    @Test func audioContextForgetsTheFarPast() throws {
        let runner = try ICSA2MParityTests.load("a2m_tiny")
        let a = runner.model.config.audioDim
        let features = try MotionFixtures.file("a2m_tiny").tensor("io.input.features").floats()  // 16 frames
        let quiet = [Float](repeating: Self.silence, count: features.count)
        func run(_ first: [Float], _ context: StreamingPlan.Context) throws -> [[Float]] {
            let stage = try Self.stage(runner, temperature: 0.5, context: context)
            let rows = first + features + features  // 48 frames; windows of 4 from frame 0 in both sessions
            return try (stage.append(FeatureRows(dimension: a, values: rows)) + stage.flush()).map(\.coefficients)
        }
        let (audioA, audioB) = (try run(features, .audio), try run(quiet, .audio))
        let (motionA, motionB) = (try run(features, .motion), try run(quiet, .motion))
        #expect(audioA.count == 48 && motionA.count == 48)
        // frames ≥ 16 + 8 (left context): their windows hear none of the first 16 frames
        #expect(maxAbsDiff(audioA[0], audioB[0]) > 1e-3, "the first frames hear different audio")
        #expect((24..<48).allSatisfy { audioA[$0] == audioB[$0] })
        #expect((24..<48).contains { maxAbsDiff(motionA[$0], motionB[$0]) > 1e-4 }, "the motion context carries the past")

        var config = try MotionFixtures.manifestConfig("a2m_tiny")
        #expect(try ICSA2MConfig(manifest: config).streamingPlan.context == .motion)
        config["stream_context"] = .string("audio")
        #expect(try ICSA2MConfig(manifest: config).streamingPlan.context == .audio)
        config["stream_context"] = .string("motionless")
        do {
            _ = try ICSA2MConfig(manifest: config)
            Issue.record("a bad stream_context was accepted")
        } catch let e as MotionModelError {
            #expect(e.message.contains("config.stream_context") && e.message.contains("\"audio\""), "\(e.message)")
        }
    }

    /// Bad feature rows are refused with an error, not a crash.
    @Test func wrongFeatureWidthIsRefused() throws {
        let runner = try ICSA2MParityTests.load("a2m_tiny")
        let stage = try Self.stage(runner, temperature: 0.5)
        #expect(throws: MotionModelError.self) { try stage.append(FeatureRows(dimension: 80, values: [Float](repeating: 0, count: 160))) }
        #expect(throws: MotionModelError.self) {
            try stage.append(FeatureRows(dimension: runner.model.config.audioDim, values: [Float](repeating: .nan, count: runner.model.config.audioDim)))
        }
    }

    /// The same seed gives the same session whatever the chunking; another seed gives another one.
    @Test func seededSessionsAreReproducible() throws {
        let runner = try ICSA2MParityTests.load("a2m_tiny")
        let a = runner.model.config.audioDim
        let features = try MotionFixtures.file("a2m_tiny").tensor("io.input.features").floats()
        let whole = try Self.stage(runner, temperature: 0.5)
        let reference = try whole.append(FeatureRows(dimension: a, values: features)) + whole.flush()
        let chunked = try Self.stage(runner, temperature: 0.5)
        var frames: [MotionFrame] = []
        for r in stride(from: 0, to: features.count / a, by: 3) {
            frames += try chunked.append(FeatureRows(dimension: a, values: Array(features[(r * a)..<(min(r + 3, features.count / a) * a)])))
        }
        frames += try chunked.flush()
        #expect(frames == reference)
        let other = try Self.stage(runner, temperature: 0.5, seed: 8)
        let otherFrames = try other.append(FeatureRows(dimension: a, values: features)) + other.flush()
        #expect(maxAbsDiff(otherFrames.flatMap(\.coefficients), reference.flatMap(\.coefficients)) > 1e-3)
    }

    /// The seeded noise is standard normal and depends only on (seed, frame, dimension).
    @Test func seededNoiseIsStandardNormalAndCounterBased() {
        let noise = MotionNoise(seed: 42, dimension: 64)
        let values = (0..<1000).flatMap { noise.row($0) }
        let mean = values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(values.count)
        #expect(abs(mean) < 0.02 && abs(variance - 1) < 0.03, "mean \(mean), variance \(variance)")
        #expect(noise.row(517) == MotionNoise(seed: 42, dimension: 64).row(517))
        #expect(noise.row(517) != MotionNoise(seed: 43, dimension: 64).row(517))
        let fourth = values.reduce(0.0) { $0 + pow(Double($1) - mean, 4) } / Double(values.count)
        #expect(abs(fourth / (variance * variance) - 3) < 0.15, "kurtosis")
    }
}

extension A2MMotionStageTests {
    /// Seeded sampling equals sampling with the same rows injected; temperature 0 ignores the noise.
    @Test func seededSamplerEqualsInjectedRows() throws {
        let runner = try ICSA2MParityTests.load("a2m_tiny")
        let m = runner.model.config.motionDim
        let io = try MotionFixtures.file("a2m_tiny")
        let features = try io.tensor("io.input.features").floats()
        let source = MotionNoise(seed: 11, dimension: m)
        let sampler = A2MSampler(steps: 3, cfgScale: 1.5, temperature: 0.7)
        let seeded = try sampler.sample(runner: runner, promptMotion: [], promptFeatures: [], features: features, source: source)
        let injected = try sampler.sample(runner: runner, promptMotion: [], promptFeatures: [], features: features,
                                          noise: (0..<16).flatMap { source.row($0) })
        #expect(seeded == injected && seeded.count == 16 * m)
        let cold = A2MSampler(steps: 3, cfgScale: 1.5, temperature: 0)
        #expect(try cold.sample(runner: runner, promptMotion: [], promptFeatures: [], features: features, source: source)
                == cold.sample(runner: runner, promptMotion: [], promptFeatures: [], features: features, source: MotionNoise(seed: 12, dimension: m)))
    }
}

import AvatarFormats
import AvatarMotion
import AvatarStages
import AvatarTestSupport
import Foundation
import Testing

/// The `motion_smoothing` low-pass on a scripted inner stage: the output equals a one-pole filter computed in Double
/// over the whole sequence however it is cut into appends and flushes; a step reaches 1 − 1/e after τ; unlisted
/// dimensions pass bit for bit; an interruption continues from the pose on screen; the manifest object is checked
/// key by key.
struct MotionSmoothingStageTests {
    /// Emits its script in order: `append` one frame per feature row, `flush` up to `flushFrames` more.
    final class ScriptedMotionStage: MotionStage {
        var script: [[Float]]
        var next = 0
        let flushFrames: Int
        var interruptedWith: [MotionFrame?] = []

        init(script: [[Float]], flushFrames: Int = 3) {
            self.script = script
            self.flushFrames = flushFrames
        }

        var dimension: Int { script.first?.count ?? 0 }

        func append(_ features: FeatureRows) throws -> [MotionFrame] { emit(features.count) }
        func flush() throws -> [MotionFrame] { emit(flushFrames) }
        func interrupt(lastRendered: MotionFrame?) { interruptedWith.append(lastRendered) }

        func emit(_ count: Int) -> [MotionFrame] {
            let end = min(script.count, next + count)
            defer { next = end }
            return (next..<end).map { MotionFrame(index: $0, coefficients: script[$0]) }
        }
    }

    static let names = ["jaw_open", "head_pitch", "blink_left", "head_yaw", "head_roll"]
    static let head = ["head_pitch", "head_yaw", "head_roll"]
    static let fps = 25

    static func rows(_ n: Int) -> FeatureRows { FeatureRows(dimension: 2, values: [Float](repeating: 0, count: 2 * n)) }

    /// A jittery head: slow sines plus per-frame noise and a step every 4 frames (a window boundary).
    static func jitteryScript(frames: Int, seed: UInt64) -> [[Float]] {
        var rng = Fuzz(seed: seed)
        func unit() -> Float { Float.random(in: -1..<1, using: &rng) }
        return (0..<frames).map { k in
            let t = Double(k) / Double(fps)
            let boundary = Float(k / 4 % 2 == 0 ? 0.1 : -0.1)
            return [unit(), Float(0.8 * sin(2 * t)) + boundary + 0.05 * unit(), unit(),
                    Float(-0.5 + 0.3 * cos(1.3 * t)) - boundary, Float(0.2 * sin(0.7 * t)) + 0.05 * unit()]
        }
    }

    /// y₀ = x₀, y_k = y_{k−1} + α·(x_k − y_{k−1}), in Double.
    static func reference(_ xs: [Double], alpha: Double) -> [Double] {
        var y = xs.first ?? 0
        return xs.map { x in y += alpha * (x - y); return y }
    }

    /// Runs the script through a smoothing stage in chunks: positive sizes are appends of that many rows, 0 a flush.
    static func run(_ script: [[Float]], chunks: [Int], tau: Double = 0.06) throws -> [MotionFrame] {
        let inner = ScriptedMotionStage(script: script)
        let stage = try MotionSmoothingStage(inner: inner, config: MotionSmoothingConfig(dimensions: head, timeConstant: tau),
                                             fps: fps, motionNames: names)
        var out: [MotionFrame] = []
        for chunk in chunks { out += chunk > 0 ? try stage.append(rows(chunk)) : try stage.flush() }
        while out.count < script.count { out += try stage.flush() }
        return out
    }

    @Test func equalsTheReferenceFilterHoweverTheFramesAreChunked() throws {
        let script = Self.jitteryScript(frames: 300, seed: 7)
        let config = try MotionSmoothingConfig(dimensions: Self.head, timeConstant: 0.06)
        let alpha = config.alpha(fps: Self.fps)
        #expect(abs(alpha - (1 - exp(-1 / 1.5))) < 1e-15)
        var rng = Fuzz(seed: 3)
        let splits: [[Int]] = [[300], Array(repeating: 1, count: 300), [4, 0, 4, 0, 17, 0, 1, 2, 0, 0, 100],
                               (0..<80).map { _ in Int(rng.next() % 9) }]
        let outputs = try splits.map { try Self.run(script, chunks: $0) }
        for (columnName, column) in zip(Self.names, 0...) {
            let xs = script.map { Double($0[column]) }
            let expected = Self.head.contains(columnName) ? Self.reference(xs, alpha: alpha) : xs
            for (split, out) in zip(splits, outputs) {
                #expect(out.map(\.index) == Array(0..<300))
                let deltas = zip(out, expected).map { abs(Double($0.coefficients[column]) - $1) }
                if Self.head.contains(columnName) {
                    print("smoothing \(columnName), \(split.count) chunks: max |Δ| \(deltas.max()!), "
                          + "mean \(deltas.reduce(0, +) / Double(deltas.count)) vs the Double reference")
                    #expect(deltas.max()! < 1e-5)
                } else {
                    #expect(out.map { $0.coefficients[column] } == script.map { $0[column] }, "\(columnName) passes untouched")
                }
            }
        }
        // Chunking changes nothing, bit for bit.
        for out in outputs.dropFirst() { #expect(out == outputs[0]) }
        // It does smooth: the frame-to-frame steps of the head shrink.
        let pitch = 1
        func largestStep(_ values: [Float]) -> Float { zip(values.dropFirst(), values).map { abs($0 - $1) }.max()! }
        let raw = largestStep(script.map { $0[pitch] }), smoothed = largestStep(outputs[0].map { $0.coefficients[pitch] })
        print("smoothing head_pitch: largest frame-to-frame step \(raw) → \(smoothed)")
        #expect(smoothed < 0.6 * raw)
    }

    @Test func stepResponseReachesOneMinusOneOverEAfterTau() throws {
        // τ = 0.2 s is 5 frames at 25 fps; the first frame is passed as is (the state starts there, no ramp from 0).
        let script: [[Float]] = (0..<40).map { k in k < 10 ? [0.3, 0.5, 0.3, 0.5, 0.5] : [0.3, 1.5, 0.3, 0.5, -0.5] }
        let out = try Self.run(script, chunks: [7, 0, 33], tau: 0.2)
        #expect(out[0].coefficients == script[0])
        #expect(out[9].coefficients == script[9], "a constant stays exactly constant")
        // After n frames of the step, 1 − (1 − α)^n of it; n = fps·τ = 5 frames gives 1 − 1/e.
        let fraction = (out[14].coefficients[1] - 0.5) / 1.0
        print("smoothing step, τ 0.2 s at 25 fps: \(fraction) of the step after 5 frames (1 − 1/e = \(1 - exp(-1.0)))")
        #expect(abs(Double(fraction) - (1 - exp(-1.0))) < 1e-5)
        #expect(abs(Double(out[14].coefficients[4] - 0.5) / -1.0 - (1 - exp(-1.0))) < 1e-5)
        #expect(abs(Double(1.5 - out[39].coefficients[1]) - exp(-6.0)) < 1e-5, "e^−6 of the step left after 30 frames (6 τ)")
        for column in [0, 2, 3] { #expect(out.map { $0.coefficients[column] } == script.map { $0[column] }) }
    }

    @Test func aSteadyTurnTrailsByOneMinusAlphaOverAlphaFrames() throws {
        // A steady yaw ramp (0.01 a frame ≈ 2.5°/s) settles to a lag of (1 − α)/α frames, ≈ τ − half a frame.
        let script: [[Float]] = (0..<100).map { k in [0, 0, 0, 0.01 * Float(k), 0] }
        let out = try Self.run(script, chunks: [50, 0, 50])
        let alpha = try MotionSmoothingConfig(dimensions: Self.head, timeConstant: 0.06).alpha(fps: Self.fps)
        let lagFrames = Double(script[99][3] - out[99].coefficients[3]) / 0.01
        print("smoothing ramp, τ 0.06 s at 25 fps: lag \(lagFrames) frames = \(1000 * lagFrames / Double(Self.fps)) ms "
              + "((1 − α)/α = \((1 - alpha) / alpha))")
        #expect(abs(lagFrames - (1 - alpha) / alpha) < 1e-3)
    }

    @Test func anInterruptionContinuesFromThePoseOnScreen() throws {
        // 20 frames emitted, the session showed 15 of them; the dropped ones moved far away (to 3).
        let script: [[Float]] = (0..<20).map { k in
            let pitch: Float = k < 15 ? 0.2 * Float(k) / 15 : 3
            return [0, pitch, 0, -pitch, 0]
        }
        let config = try MotionSmoothingConfig(dimensions: Self.head, timeConstant: 0.06)
        let alpha = Float(config.alpha(fps: Self.fps))
        let inner = ScriptedMotionStage(script: script)
        let stage = try MotionSmoothingStage(inner: inner, config: config, fps: Self.fps, motionNames: Self.names)
        let before = try stage.append(Self.rows(20))
        let onScreen = before[14]
        stage.interrupt(lastRendered: onScreen)
        #expect(inner.interruptedWith == [onScreen], "the inner stage ramps from the same pose")
        // The inner stage ramps from the pose on screen towards rest (0).
        inner.script += (0..<10).map { k in
            let pitch = onScreen.coefficients[1] * Float(9 - k) / 10
            return [0, pitch, 0, -pitch, 0]
        }
        let after = try stage.append(Self.rows(10))
        let jump = abs(after[0].coefficients[1] - onScreen.coefficients[1])
        let innerStep = abs(inner.script[20][1] - onScreen.coefficients[1])
        print("smoothing interrupt: first frame moves \(jump) from the pose on screen (inner step \(innerStep), "
              + "without the reset it would move \(abs(after[0].coefficients[1] - before[19].coefficients[1])) from the dropped frames)")
        #expect(abs(jump - alpha * innerStep) < 1e-6)
        #expect(jump < 0.02)
        // Without a rendered frame, from the last emitted one.
        let last = after.last!
        stage.interrupt(lastRendered: nil)
        inner.script += [[0, 1, 0, 1, 0]]
        let next = try stage.append(Self.rows(1))[0]
        #expect(abs(next.coefficients[1] - (last.coefficients[1] + alpha * (1 - last.coefficients[1]))) < 1e-6)
    }

    @Test func namesMustBeAmongTheStageDimensions() throws {
        let inner = ScriptedMotionStage(script: [[0, 0, 0, 0, 0]])
        let config = try MotionSmoothingConfig(dimensions: ["head_pitch", "head_tilt"], timeConstant: 0.1)
        #expect { try MotionSmoothingStage(inner: inner, config: config, fps: 25, motionNames: Self.names) } throws: {
            "\($0)".contains("motion_smoothing") && "\($0)".contains("head_tilt")
        }
    }

    @Test func manifestObjectIsCheckedKeyByKey() throws {
        let config = try MotionSmoothingConfig(manifest: ["dimensions": .array(Self.head.map(JSONValue.string)), "time_constant_s": .number(0.06)])
        #expect(config.dimensions == Self.head && config.timeConstant == 0.06)
        let head: JSONValue = .array([.string("head_pitch")])
        let cases: [([String: JSONValue], String)] = [
            (["dimensions": head, "time_constant_s": .number(0.06), "time_constant": .number(1)], "'time_constant'"),
            (["time_constant_s": .number(0.06)], "dimensions is required"),
            (["dimensions": head], "time_constant_s is required"),
            (["dimensions": .string("head_pitch"), "time_constant_s": .number(0.06)], "dimensions must be a list"),
            (["dimensions": .array([.number(1)]), "time_constant_s": .number(0.06)], "dimensions must be a list"),
            (["dimensions": .array([]), "time_constant_s": .number(0.06)], "dimensions must name"),
            (["dimensions": .array([.string("head_yaw"), .string("head_yaw")]), "time_constant_s": .number(0.06)], "'head_yaw' twice"),
            (["dimensions": head, "time_constant_s": .number(0)], "time_constant_s must be"),
            (["dimensions": head, "time_constant_s": .number(2.5)], "time_constant_s must be"),
            (["dimensions": head, "time_constant_s": .string("60ms")], "time_constant_s must be"),
        ]
        for (object, expected) in cases {
            #expect { try MotionSmoothingConfig(manifest: object) } throws: {
                "\($0)".hasPrefix("motion_smoothing: ") && "\($0)".contains(expected)
            }
        }
        #expect(try MotionSmoothingConfig(manifest: ["dimensions": head, "time_constant_s": .number(2)]).timeConstant == 2)
    }
}

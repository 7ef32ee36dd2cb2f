import AvatarFormats
import AvatarMotion
import AvatarStages
import Foundation
import Testing

/// The per-session eye process over 10 simulated minutes at 25 fps: blink intervals and durations stay in their
/// ranges, both eyes blink together, the gaze holds fixations of 0.5–3 s within its amplitude, and the values are a
/// pure function of (seed, frame).
struct EyeMotionProcessTests {
    static let fps = 25
    static let frames = 10 * 60 * fps

    @Test func blinksKeepTheirRangesAndBothEyesMoveTogether() {
        let config = EyeMotionConfig()
        let process = EyeMotionProcess(config: config, fps: Self.fps, seed: 11)
        let values = (0..<Self.frames).map { process.values(frame: $0) }
        let blinks = process.blinks(through: Double(Self.frames) / Double(Self.fps))
        let intervals = zip(blinks.dropFirst(), blinks).map { $0.closed - $1.closed }
        let durations = blinks.map { $0.end - $0.start }
        print("eye process, 10 min: \(blinks.count) blinks, interval \(intervals.min()!)…\(intervals.max()!) s "
              + "(mean \(intervals.reduce(0, +) / Double(intervals.count))), duration \(durations.min()!)…\(durations.max()!) s")
        #expect(blinks.count >= 100 && blinks.count <= 300)  // 600 s / 2…6 s
        #expect(intervals.allSatisfy { $0 >= 2 - 1e-9 && $0 <= 6 + 1e-9 })
        #expect(durations.allSatisfy { $0 >= 0.1 - 1e-9 && $0 <= 0.25 + 1e-9 })
        #expect(intervals.max()! - intervals.min()! > 3, "intervals spread over the range")
        // Fast close (40 %), slower open.
        #expect(blinks.allSatisfy { abs(($0.closed - $0.start) / ($0.end - $0.start) - 0.4) < 1e-9 })

        // Frames: every blink's closed instant is a frame where the lids are shut (visible at 25 fps); both eyes move
        // in the same frames; outside blinks the lids are open.
        var closedFrames = 0, movingFrames = 0
        for (f, v) in values.enumerated() {
            #expect((v.blinkLeft > 0) == (v.blinkRight > 0), "frame \(f): \(v)")
            #expect(v.blinkLeft >= 0 && v.blinkLeft <= 1 && v.blinkRight >= 0 && v.blinkRight <= 1)
            if v.blinkLeft > 0 { movingFrames += 1 }
            if max(v.blinkLeft, v.blinkRight) == 1 { closedFrames += 1 }
        }
        #expect(closedFrames == blinks.filter { $0.closed * Double(Self.fps) < Double(Self.frames) - 0.5 }.count)
        #expect(movingFrames <= blinks.count * 7, "at most 250 ms ≈ 6–7 frames per blink, \(movingFrames) frames for \(blinks.count)")
        let together = blinks.filter { $0.depthLeft == $0.depthRight }.count
        #expect(Double(together) > 0.8 * Double(blinks.count))
    }

    @Test func gazeHoldsFixationsWithQuickSaccades() {
        let config = EyeMotionConfig()
        let process = EyeMotionProcess(config: config, fps: Self.fps, seed: 11)
        let values = (0..<Self.frames).map { process.values(frame: $0) }
        let fixations = process.fixations(through: Double(Self.frames) / Double(Self.fps))
        let holds = fixations.map { $0.end - $0.arrival }
        print("eye process, 10 min: \(fixations.count) fixations, hold \(holds.min()!)…\(holds.max()!) s, "
              + "eyes_left \(values.map(\.eyesLeft).min()!)…\(values.map(\.eyesLeft).max()!), "
              + "eyes_up \(values.map(\.eyesUp).min()!)…\(values.map(\.eyesUp).max()!)")
        #expect(holds.allSatisfy { $0 >= 0.5 - 1e-9 && $0 <= 3 + 1e-9 })
        #expect(fixations.count > 200 && fixations.count < 1200)
        #expect(values.allSatisfy { abs($0.eyesLeft) <= 0.25 + 1e-6 && abs($0.eyesUp) <= 0.12 + 1e-6 })
        // Not fixed: the gaze uses its range, and it comes back towards the centre.
        #expect(values.map(\.eyesLeft).max()! > 0.15 && values.map(\.eyesLeft).min()! < -0.15)
        #expect(fixations.filter { abs($0.left) <= 0.05 && abs($0.up) <= 0.024 }.count > fixations.count / 4)
        // Saccades are quick: the gaze changes in at most 2 consecutive frames per fixation.
        var changing = 0
        for f in 1..<values.count where values[f].eyesLeft != values[f - 1].eyesLeft || values[f].eyesUp != values[f - 1].eyesUp {
            changing += 1
        }
        #expect(changing <= 2 * fixations.count)
    }

    /// A motion stage that emits `perAppend` numbered frames of zeros per append (a stand-in for the model).
    final class CountingStage: MotionStage {
        let dimension = 4
        let perAppend: Int
        var next = 0
        init(perAppend: Int) { self.perAppend = perAppend }
        func append(_ features: FeatureRows) throws -> [MotionFrame] {
            defer { next += perAppend }
            return (next..<(next + perAppend)).map { MotionFrame(index: $0, coefficients: [0, 0, 0, 0]) }
        }
        func flush() throws -> [MotionFrame] { [] }
        func interrupt(lastRendered: MotionFrame?) {}
    }

    /// At an interruption the session drops the frames still queued; the eye clock is re-based on the frame on
    /// screen, so the frame after it carries the next eye values, not values from the dropped frames' future.
    @Test func anInterruptionReBasesTheEyeClockOnTheFrameOnScreen() throws {
        let process = EyeMotionProcess(config: EyeMotionConfig(), fps: Self.fps, seed: 3)
        let values = { (f: Int) -> [Float] in
            let v = process.values(frame: f)
            return [v.blinkLeft, v.blinkRight, v.eyesLeft, v.eyesUp]
        }
        // The first blink's closed frame; the session shows up to 2 frames before it, then is interrupted with the
        // blink's frames still queued (dropped).
        let blink = try #require((0..<(10 * Self.fps)).first { values($0)[0] > 0.9 })
        let stage = try EyeMotionStage(inner: CountingStage(perAppend: 4), process: process,
                                       motionNames: EyeMotionConfig.motionNames)
        let rows = FeatureRows(dimension: 1, values: [0])
        var emitted: [MotionFrame] = []
        while emitted.count < blink + 6 { emitted += try stage.append(rows) }
        let onScreen = emitted[blink - 2]
        stage.interrupt(lastRendered: onScreen)
        let after = try stage.append(rows)                                // shown as session frames blink − 1 …
        #expect(emitted.map(\.coefficients) == (0..<emitted.count).map(values))
        #expect(after.map(\.coefficients) == ((blink - 1)..<(blink + 3)).map(values))
        #expect(after[1].coefficients[0] > 0.9, "the blink is shown after the interruption, not skipped")
    }

    /// Without a picture on screen the eyes go on from the last frame emitted; a second interruption before any
    /// frame keeps the place the first one gave.
    @Test func anInterruptionWithoutAPictureContinuesFromTheLastFrame() throws {
        var quick = EyeMotionConfig()
        quick.fixation = 0.04...0.08  // the gaze moves every frame or two, so a frame off shows
        let process = EyeMotionProcess(config: quick, fps: Self.fps, seed: 4)
        let values = { (f: Int) -> [Float] in
            let v = process.values(frame: f)
            return [v.blinkLeft, v.blinkRight, v.eyesLeft, v.eyesUp]
        }
        let stage = try EyeMotionStage(inner: CountingStage(perAppend: 4), process: process,
                                       motionNames: EyeMotionConfig.motionNames)
        let rows = FeatureRows(dimension: 1, values: [0])
        var emitted: [MotionFrame] = []
        for _ in 0..<5 { emitted += try stage.append(rows) }               // eye frames 0 … 19
        stage.interrupt(lastRendered: nil)
        #expect(try stage.append(rows).map(\.coefficients) == (20..<24).map(values))
        stage.interrupt(lastRendered: emitted[9])                          // shown: 9; frames 10 … 23 dropped
        stage.interrupt(lastRendered: nil)                                 // again, before any frame
        #expect(try stage.append(rows).map(\.coefficients) == (10..<14).map(values))
        #expect((10..<14).map(values) != (24..<28).map(values) && (20..<24).map(values) != (0..<4).map(values))
    }

    @Test func aPureFunctionOfSeedAndFrame() {
        let a = EyeMotionProcess(config: EyeMotionConfig(), fps: Self.fps, seed: 5)
        let b = EyeMotionProcess(config: EyeMotionConfig(), fps: Self.fps, seed: 5)
        let c = EyeMotionProcess(config: EyeMotionConfig(), fps: Self.fps, seed: 6)
        let sequential = (0..<3000).map { a.values(frame: $0) }
        // Asked out of order and with gaps (dropped frames, a late join): the same values.
        for f in [2999, 17, 1500, 0, 2400, 2401, 999] { #expect(b.values(frame: f) == sequential[f]) }
        #expect((0..<3000).map { b.values(frame: $0) } == sequential)
        #expect((0..<3000).map { c.values(frame: $0) } != sequential)
    }

    @Test func manifestObjectIsCheckedKeyByKey() throws {
        let config = try EyeMotionConfig(manifest: ["blink_interval_s": .array([.number(3), .number(5)]), "gaze_amplitude": .number(0.1)])
        #expect(config.blinkInterval == 3...5 && config.gazeAmplitude == 0.1 && config.blinkDuration == 0.10...0.25)
        #expect(try EyeMotionConfig(manifest: [:]) == EyeMotionConfig())
        #expect { try EyeMotionConfig(manifest: ["blink_intervals": .array([.number(3), .number(5)])]) } throws: {
            "\($0)".contains("'blink_intervals'")
        }
        #expect { try EyeMotionConfig(manifest: ["blink_interval_s": .array([.number(5), .number(3)])]) } throws: {
            "\($0)".contains("blink_interval_s")
        }
        #expect { try EyeMotionConfig(manifest: ["gaze_amplitude": .string("wide")]) } throws: { "\($0)".contains("gaze_amplitude") }
    }
}

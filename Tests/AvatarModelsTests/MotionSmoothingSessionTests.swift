import AvatarBundle
import AvatarFormats
import AvatarModels
import AvatarMotion
import AvatarStages
import Foundation
import Testing

/// `motion_smoothing` through the demo avatar's session stages (the shipped bundle smooths its head pose; a copy
/// without the key is the reference): the listed dimensions are the one-pole filter of what the same session gives
/// without the key, the others are unchanged; bad objects, names outside `motion_names` and eye-process dimensions
/// are refused naming the key.
@Suite(.serialized) struct MotionSmoothingSessionTests {
    static let smoothed = ["head_pitch", "head_yaw", "head_roll"]
    static let tau = 0.15

    static func avatar(_ directory: URL) throws -> BundleAvatar {
        let bundle = try AvatarBundle(directory: directory, supportedKinds: ModelKind.supported)
        return try #require(try AvatarFactory.makeAvatar(bundle, context: try EyeMotionSessionTests.context.get()) as? BundleAvatar)
    }

    @Test func sessionsFilterTheListedDimensions() throws {
        let withoutKey = try EyeMotionSessionTests.demoCopy { $0.removeValue(forKey: "motion_smoothing") }
        defer { try? FileManager.default.removeItem(at: withoutKey) }
        let shipped = try AvatarBundle(directory: EyeMotionSessionTests.demo, supportedKinds: ModelKind.supported)
        let key = try #require(shipped.manifest.motionSmoothing, "the shipped manifest smooths the head pose")
        #expect(key["dimensions"] == .array(Self.smoothed.map { .string($0) }) && key["time_constant_s"]?.double == Self.tau)
        let plain = try Self.avatar(withoutKey)
        let smoothing = try #require(try AvatarFactory.makeAvatar(shipped, context: try EyeMotionSessionTests.context.get()) as? BundleAvatar)
        #expect(smoothing.algorithmicLatencyMs == plain.algorithmicLatencyMs, "a causal filter needs no more audio")

        let raw = try EyeMotionSessionTests.frames(plain, seed: 3)
        let out = try EyeMotionSessionTests.frames(smoothing, seed: 3)
        #expect(out.map(\.index) == raw.map(\.index))
        let alpha = 1 - exp(-1 / (Double(smoothing.fps) * Self.tau))
        for (column, name) in smoothing.motionNames.enumerated() {
            let xs = raw.map { $0.coefficients[column] }, ys = out.map { $0.coefficients[column] }
            if Self.smoothed.contains(name) {
                var y = Double(xs[0])
                let expected = xs.map { x in y += alpha * (Double(x) - y); return y }
                let deltas = zip(ys, expected).map { abs(Double($0) - $1) }
                let rawSteps = zip(xs.dropFirst(), xs).map { abs($0 - $1) }, steps = zip(ys.dropFirst(), ys).map { abs($0 - $1) }
                print("demo session, \(name) smoothed at τ \(Self.tau) s: max |Δ| \(deltas.max()!) vs the reference filter of the "
                      + "unsmoothed session; mean frame-to-frame step \(rawSteps.reduce(0, +) / Float(rawSteps.count)) → "
                      + "\(steps.reduce(0, +) / Float(steps.count))")
                #expect(deltas.max()! < 1e-5)
                #expect(ys != xs)
            } else {
                #expect(ys == xs, "\(name) is not smoothed")
            }
        }
    }

    @Test func badObjectsAreRefusedNamingTheKey() throws {
        let cases: [([String: Any], String)] = [
            (["dimensions": ["neck_twist"], "time_constant_s": 0.06], "neck_twist are not in motion_names"),
            (["dimensions": ["jaw_open"], "time_constant_s": 0.06, "tau": 1], "'tau'"),
            (["dimensions": ["jaw_open"]], "time_constant_s is required"),
            (["dimensions": ["jaw_open"], "time_constant_s": 3], "time_constant_s must be"),
            (["dimensions": ["jaw_open", "blink_left"], "time_constant_s": 0.06], "'blink_left' is driven by eye_motion"),
        ]
        for (object, expected) in cases {
            let directory = try EyeMotionSessionTests.demoCopy { $0["motion_smoothing"] = object }
            defer { try? FileManager.default.removeItem(at: directory) }
            #expect { try Self.avatar(directory) } throws: {
                ($0 as? BundleError).map { "\($0)".contains("motion_smoothing") && "\($0)".contains(expected) } ?? false
            }
        }
        // Without eye_motion the blink may be smoothed.
        let directory = try EyeMotionSessionTests.demoCopy {
            $0.removeValue(forKey: "eye_motion")
            $0["motion_smoothing"] = ["dimensions": ["blink_left"], "time_constant_s": 0.06] as [String: Any]
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try Self.avatar(directory).motionNames.contains("blink_left"))
    }
}

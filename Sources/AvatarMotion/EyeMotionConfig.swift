public import AvatarFormats

/// Settings of the per-session eye process (`EyeMotionProcess`), from a bundle manifest's `eye_motion` object
/// (docs/demo-avatar.md §6). Every key is optional; unknown keys are refused so that a typo does not silently
/// fall back to a default.
public struct EyeMotionConfig: Sendable, Equatable {
    /// Seconds from one blink's closed instant to the next (drawn uniformly).
    public var blinkInterval: ClosedRange<Double> = 2.0...6.0
    /// Seconds from a blink's first movement to the lid being open again (drawn uniformly).
    public var blinkDuration: ClosedRange<Double> = 0.10...0.25
    /// Part of a blink spent closing (the rest, slower, opening).
    public var blinkCloseFraction = 0.4
    /// Chance that one eye closes a little less than the other in a blink (both always move together).
    public var blinkAsymmetry = 0.1
    /// Seconds a fixation holds the gaze (drawn uniformly).
    public var fixation: ClosedRange<Double> = 0.5...3.0
    /// Seconds a saccade takes to move the gaze to the next fixation.
    public var saccade = 0.04
    /// Largest horizontal gaze (`eyes_left`, 1 = 20°) and vertical gaze (`eyes_up`) of a fixation.
    public var gazeAmplitude = 0.25
    public var gazeVerticalAmplitude = 0.12
    /// Chance that a fixation returns close to the centre (within a fifth of the amplitudes).
    public var returnToCentre = 0.4

    /// The motion dimensions the process drives (they must be among the bundle's motion names).
    public static let motionNames = ["blink_left", "blink_right", "eyes_left", "eyes_up"]
    public static let keys = ["blink_interval_s", "blink_duration_s", "blink_close_fraction", "blink_asymmetry", "fixation_s",
                              "saccade_s", "gaze_amplitude", "gaze_vertical_amplitude", "return_to_centre"]

    public init() {}

    /// From the manifest's `eye_motion` object; errors name the key and what was expected.
    public init(manifest object: [String: JSONValue]) throws {
        func fail(_ message: String) -> MotionModelError { MotionModelError("eye_motion", message) }
        if let unknown = object.keys.sorted().first(where: { !Self.keys.contains($0) }) {
            throw fail("unknown key '\(unknown)' (known: \(Self.keys.joined(separator: ", ")))")
        }
        func range(_ key: String, _ current: ClosedRange<Double>, within limits: ClosedRange<Double>) throws -> ClosedRange<Double> {
            guard let value = object[key] else { return current }
            guard case .array(let items) = value, items.count == 2, let lo = items[0].double, let hi = items[1].double,
                  lo <= hi, limits.contains(lo), limits.contains(hi) else {
                throw fail("\(key) must be [min, max] with min ≤ max within \(limits.lowerBound)…\(limits.upperBound), got \(value)")
            }
            return lo...hi
        }
        func number(_ key: String, _ current: Double, within limits: ClosedRange<Double>) throws -> Double {
            guard let value = object[key] else { return current }
            guard let x = value.double, limits.contains(x) else {
                throw fail("\(key) must be a number within \(limits.lowerBound)…\(limits.upperBound), got \(value)")
            }
            return x
        }
        blinkInterval = try range("blink_interval_s", blinkInterval, within: 0.5...60)
        blinkDuration = try range("blink_duration_s", blinkDuration, within: 0.04...1)
        guard blinkDuration.upperBound < blinkInterval.lowerBound else {
            throw fail("blink_duration_s \(blinkDuration) must end before the shortest blink_interval_s \(blinkInterval.lowerBound)")
        }
        blinkCloseFraction = try number("blink_close_fraction", blinkCloseFraction, within: 0.1...0.9)
        blinkAsymmetry = try number("blink_asymmetry", blinkAsymmetry, within: 0...1)
        fixation = try range("fixation_s", fixation, within: 0.1...30)
        saccade = try number("saccade_s", saccade, within: 0...0.2)
        guard saccade < fixation.lowerBound else { throw fail("saccade_s \(saccade) must be shorter than the shortest fixation_s") }
        gazeAmplitude = try number("gaze_amplitude", gazeAmplitude, within: 0...1)
        gazeVerticalAmplitude = try number("gaze_vertical_amplitude", gazeVerticalAmplitude, within: 0...1)
        returnToCentre = try number("return_to_centre", returnToCentre, within: 0...1)
    }
}

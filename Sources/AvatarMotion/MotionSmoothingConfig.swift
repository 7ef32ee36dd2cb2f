public import AvatarFormats
import Foundation

/// Settings of the per-session low-pass (`MotionSmoothingStage`), from a bundle manifest's `motion_smoothing` object
/// (docs/demo-avatar.md §6): `{"dimensions": [names], "time_constant_s": τ}`. Both keys are required; unknown keys
/// are refused so that a typo does not silently leave the head unsmoothed.
public struct MotionSmoothingConfig: Sendable, Equatable {
    /// Names of the motion dimensions to smooth (each once; the bundle's `motion_names` must include them).
    public let dimensions: [String]
    /// Time constant τ of the one-pole low-pass, in seconds: a step reaches 1 − 1/e of its height after τ.
    public let timeConstant: Double

    public static let keys = ["dimensions", "time_constant_s"]
    public static let timeConstantLimit = 2.0

    public init(dimensions: [String], timeConstant: Double) throws {
        func fail(_ message: String) -> MotionModelError { MotionModelError("motion_smoothing", message) }
        guard !dimensions.isEmpty else { throw fail("dimensions must name at least one motion dimension") }
        if let repeated = dimensions.enumerated().first(where: { dimensions[..<$0.offset].contains($0.element) }) {
            throw fail("dimensions lists '\(repeated.element)' twice")
        }
        guard timeConstant > 0, timeConstant <= Self.timeConstantLimit else {
            throw fail("time_constant_s must be a number in (0, \(Self.timeConstantLimit)] seconds, got \(timeConstant)")
        }
        self.dimensions = dimensions
        self.timeConstant = timeConstant
    }

    /// From the manifest's `motion_smoothing` object; errors name the key and what was expected.
    public init(manifest object: [String: JSONValue]) throws {
        func fail(_ message: String) -> MotionModelError { MotionModelError("motion_smoothing", message) }
        if let unknown = object.keys.sorted().first(where: { !Self.keys.contains($0) }) {
            throw fail("unknown key '\(unknown)' (known: \(Self.keys.joined(separator: ", ")))")
        }
        guard let value = object["dimensions"] else { throw fail("dimensions is required (a list of motion names)") }
        guard case .array(let items) = value else { throw fail("dimensions must be a list of motion names, got \(value)") }
        let names = try items.map { item in
            guard case .string(let name) = item else { throw fail("dimensions must be a list of motion names, got \(item) in it") }
            return name
        }
        guard let tauValue = object["time_constant_s"] else { throw fail("time_constant_s is required (seconds)") }
        guard let tau = tauValue.double, tau.isFinite else {
            throw fail("time_constant_s must be a number in (0, \(Self.timeConstantLimit)] seconds, got \(tauValue)")
        }
        try self.init(dimensions: names, timeConstant: tau)
    }

    /// Weight of the new sample at `fps`: α = 1 − exp(−1/(fps·τ)).
    public func alpha(fps: Int) -> Double { 1 - exp(-1 / (Double(fps) * timeConstant)) }
}

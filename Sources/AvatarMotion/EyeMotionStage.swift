public import AvatarStages

/// A motion stage whose blink and gaze dimensions come from the session's `EyeMotionProcess` instead of the model:
/// every emitted frame's `blink_left`, `blink_right`, `eyes_left`, `eyes_up` are replaced by the process's values
/// for the frame's number in the session, the other dimensions pass through. The inner stage numbers the frames it
/// emits, including those the session drops at an interruption; at each interruption the eye clock is re-based on
/// the session's number of the frame on screen, so a half-closed blink carries on instead of jumping ahead.
/// (Frames the session skips under overload without an interruption are not seen here: the eyes then run behind
/// the session's clock by those frames, smoothly.)
public final class EyeMotionStage: MotionStage {
    let inner: any MotionStage
    public let process: EyeMotionProcess
    /// Positions of blink_left, blink_right, eyes_left, eyes_up in the motion frame.
    let indices: [Int]
    /// Eye frame = inner frame index + shift; the last inner index seen.
    private var shift = 0
    private var lastInnerIndex = -1

    /// `motionNames`: the names of the inner stage's dimensions; they must include `EyeMotionConfig.motionNames`.
    public init(inner: any MotionStage, process: EyeMotionProcess, motionNames: [String]) throws {
        let found = EyeMotionConfig.motionNames.map { motionNames.firstIndex(of: $0) }
        guard motionNames.count == inner.dimension, !found.contains(nil) else {
            let missing = EyeMotionConfig.motionNames.filter { !motionNames.contains($0) }
            throw MotionModelError("eye_motion", "needs the motion dimensions \(EyeMotionConfig.motionNames.joined(separator: ", ")) among "
                                   + "\(inner.dimension) named dimensions; missing \(missing), got \(motionNames.count) names")
        }
        self.inner = inner
        self.process = process
        indices = found.compactMap { $0 }
    }

    public var dimension: Int { inner.dimension }

    public func append(_ features: FeatureRows) throws -> [MotionFrame] { try inner.append(features).map(override) }

    public func flush() throws -> [MotionFrame] { try inner.flush().map(override) }

    public func interrupt(lastRendered: MotionFrame?) {
        // The next inner frame is lastInnerIndex + 1; it is shown as the frame after the one on screen.
        if let shown = lastRendered { shift = shown.index - lastInnerIndex }
        inner.interrupt(lastRendered: lastRendered)
    }

    func override(_ frame: MotionFrame) -> MotionFrame {
        var out = frame
        lastInnerIndex = frame.index
        let v = process.values(frame: frame.index + shift)
        for (i, value) in zip(indices, [v.blinkLeft, v.blinkRight, v.eyesLeft, v.eyesUp]) where i < out.coefficients.count {
            out.coefficients[i] = value
        }
        return out
    }
}

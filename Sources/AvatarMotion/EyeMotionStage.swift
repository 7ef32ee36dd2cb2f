public import AvatarStages

/// A motion stage whose blink and gaze dimensions come from the session's `EyeMotionProcess` instead of the model:
/// every emitted frame's `blink_left`, `blink_right`, `eyes_left`, `eyes_up` are replaced by the process's values
/// for the frame's number in the session, the other dimensions pass through. The inner stage numbers the frames it
/// emits, including those the session drops at an interruption; at each interruption (the session's skips under
/// overload are interruptions too) the eye clock is re-based on the session's number of the frame on screen, so a
/// half-closed blink carries on instead of jumping ahead.
public final class EyeMotionStage: MotionStage {
    let inner: any MotionStage
    public let process: EyeMotionProcess
    /// Positions of blink_left, blink_right, eyes_left, eyes_up in the motion frame.
    let indices: [Int]
    /// Eye frame = inner frame index + shift; the eye frame of the last frame emitted.
    private var shift = 0
    private var lastEyeFrame = -1
    /// After an interruption: the eye frame of the next frame the inner stage emits, whatever number it gives it
    /// (a stage may continue its count or restart it).
    private var rebaseTo: Int?

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
        // The next frame is shown after the one on screen, or, with none given, after the last one emitted
        // (unless an earlier interruption with no frame since has already placed it).
        if let shown = lastRendered {
            rebaseTo = shown.index + 1
        } else if rebaseTo == nil, lastEyeFrame >= 0 {
            rebaseTo = lastEyeFrame + 1
        }
        inner.interrupt(lastRendered: lastRendered)
    }

    func override(_ frame: MotionFrame) -> MotionFrame {
        var out = frame
        if let eyeFrame = rebaseTo {
            shift = eyeFrame - frame.index
            rebaseTo = nil
        }
        lastEyeFrame = frame.index + shift
        let v = process.values(frame: lastEyeFrame)
        for (i, value) in zip(indices, [v.blinkLeft, v.blinkRight, v.eyesLeft, v.eyesUp]) where i < out.coefficients.count {
            out.coefficients[i] = value
        }
        return out
    }
}

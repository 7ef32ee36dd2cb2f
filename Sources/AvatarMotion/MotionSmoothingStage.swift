public import AvatarStages

/// A motion stage that low-passes some dimensions of its inner stage's frames (the head pose of a windowed model
/// jitters from frame to frame and steps at window boundaries): per listed dimension a one-pole filter
/// y_k = y_{k−1} + α·(x_k − y_{k−1}), α = 1 − exp(−1/(fps·τ)), over the frames in emission order, `flush()`'s
/// included. The state starts at the first frame's value (no ramp from 0). The other dimensions pass through.
/// Being causal, it needs no more audio before a frame; the smoothed dimensions lag the model by about τ.
public final class MotionSmoothingStage: MotionStage {
    let inner: any MotionStage
    public let config: MotionSmoothingConfig
    /// Positions of `config.dimensions` in the motion frame.
    let indices: [Int]
    let alpha: Float
    /// The value last emitted for each listed dimension (nil before the first frame).
    private var state: [Float]?

    /// `motionNames`: the names of the inner stage's dimensions; they must include `config.dimensions`.
    public init(inner: any MotionStage, config: MotionSmoothingConfig, fps: Int, motionNames: [String]) throws {
        let found = config.dimensions.map { motionNames.firstIndex(of: $0) }
        guard motionNames.count == inner.dimension, !found.contains(nil) else {
            let missing = config.dimensions.filter { !motionNames.contains($0) }
            throw MotionModelError("motion_smoothing", "dimensions \(config.dimensions.joined(separator: ", ")) must be among "
                                   + "\(inner.dimension) named dimensions; missing \(missing), got \(motionNames.count) names")
        }
        guard fps > 0 else { throw MotionModelError("motion_smoothing", "needs a positive frame rate, got \(fps)") }
        self.inner = inner
        self.config = config
        indices = found.compactMap { $0 }
        alpha = Float(config.alpha(fps: fps))
    }

    public var dimension: Int { inner.dimension }

    public func append(_ features: FeatureRows) throws -> [MotionFrame] { try inner.append(features).map(smooth) }

    public func flush() throws -> [MotionFrame] { try inner.flush().map(smooth) }

    /// The filter continues from the pose on screen (`lastRendered`, which this stage emitted) or, when nil, from
    /// its last output, so the smoothed dimensions do not jump; the inner stage ramps from the same pose.
    public func interrupt(lastRendered: MotionFrame?) {
        if let last = lastRendered, indices.allSatisfy({ $0 < last.coefficients.count }) {
            state = indices.map { last.coefficients[$0] }
        }
        inner.interrupt(lastRendered: lastRendered)
    }

    func smooth(_ frame: MotionFrame) -> MotionFrame {
        // Frames of another width are not this stage's to shape (the inner stage always emits `dimension` values).
        guard indices.allSatisfy({ $0 < frame.coefficients.count }) else { return frame }
        var out = frame
        var y = state ?? indices.map { frame.coefficients[$0] }
        for (k, i) in indices.enumerated() {
            y[k] += alpha * (frame.coefficients[i] - y[k])
            out.coefficients[i] = y[k]
        }
        state = y
        return out
    }
}

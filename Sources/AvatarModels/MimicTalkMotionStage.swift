public import AvatarFace
public import AvatarStages
import AvatarMotion

/// The motion stage of a MimicTalk avatar: the ICS-A2M stage's expression frames, each extended with what the
/// renderer needs beside the SECC map — the torso keypoints (lm68 of the posed face, smoothed over 7 frames as
/// upstream smooths them) and the EG3D camera of the head pose. Coefficients of every emitted frame:
/// `[exp (64) | kp_d (68 × 2, x then y per point) | camera (25)]`.
///
/// Live (sliding window): frame numbers run from the session start; the pose keeps moving along the avatar's
/// pose source between utterances (`PoseSource.liveCamera`), and the keypoint filter holds 3 frames of
/// look-ahead, flushed with upstream's end padding at the end of an utterance. Full window (offline parity):
/// every utterance starts at pose frame 0, the cameras are one utterance sequence of the T frames the model
/// sampled (rows padded as upstream pads them) and the keypoints are smoothed over the T − 4 frames upstream
/// renders; the frames after them (upstream samples and drops them) are smoothed over everything emitted.
public final class MimicTalkMotionStage: MotionStage {
    public static let expressionCount = 64
    public static let keypointValues = 68 * 2
    public static let cameraValues = 25
    public static var dimension: Int { expressionCount + keypointValues + cameraValues }
    /// Frames the keypoint filter needs after a frame before it is final.
    public static let lookaheadFrames = 3

    let inner: any MotionStage
    let keypoints: TorsoKeypoints
    let poses: PoseSource
    let fullWindow: Bool
    /// Full window: motion rows are padded to a multiple of this before sampling (HuBERT: 8 rows = 4 frames).
    let padRowsMultiple: Int
    private var smoother = KeypointSmoother()
    /// Expression frames whose keypoints are still in the filter, with their pose frame numbers.
    private var pending: [(exp: [Float], frame: Int)] = []
    /// Pose frame number of the next frame the inner stage emits.
    private var nextFrame = 0

    public init(inner: any MotionStage, keypoints: TorsoKeypoints, poses: PoseSource, fullWindow: Bool, padRowsMultiple: Int) {
        self.inner = inner
        self.keypoints = keypoints
        self.poses = poses
        self.fullWindow = fullWindow
        self.padRowsMultiple = max(1, padRowsMultiple)
    }

    public var dimension: Int { Self.dimension }

    public func append(_ features: FeatureRows) throws -> [MotionFrame] {
        let frames = try inner.append(features)
        return fullWindow ? try utterance(frames) : try stream(frames, final: false)
    }

    public func flush() throws -> [MotionFrame] {
        let frames = try inner.flush()
        return fullWindow ? try utterance(frames) : try stream(frames, final: true)
    }

    public func interrupt(lastRendered: MotionFrame?) {
        inner.interrupt(lastRendered: lastRendered.map {
            MotionFrame(index: $0.index, coefficients: Array($0.coefficients.prefix(Self.expressionCount)))
        })
        // The frames held by the filter were never shown; the pose continues after the frame on screen (the session
        // numbers it as the frame it is shown at, also through skipped frames), or from the start.
        pending.removeAll()
        smoother.reset()
        nextFrame = lastRendered.map { $0.index + 1 } ?? 0
    }

    // MARK: -

    private func expression(_ frame: MotionFrame) throws -> [Float] {
        guard frame.coefficients.count == Self.expressionCount else {
            throw MotionModelError("mimictalk", "the motion model gives \(frame.coefficients.count) values per frame, "
                                        + "the renderer needs \(Self.expressionCount) expression coefficients")
        }
        return frame.coefficients
    }

    private func stream(_ frames: [MotionFrame], final: Bool) throws -> [MotionFrame] {
        var smoothed: [[Float]] = []
        for frame in frames {
            let exp = try expression(frame)
            pending.append((exp, nextFrame))
            smoothed += try smoother.push(try keypoints.keypoints(exp: exp, pose: poses.pose(frame: nextFrame)))
            nextFrame += 1
        }
        if final { smoothed += smoother.flush() }
        var out: [MotionFrame] = []
        for kp in smoothed {
            let (exp, frame) = pending.removeFirst()
            out.append(MotionFrame(index: frame, coefficients: exp + kp + (try poses.liveCamera(frame: frame))))
        }
        return out
    }

    /// One whole utterance (full window emits everything at flush).
    private func utterance(_ frames: [MotionFrame]) throws -> [MotionFrame] {
        guard !frames.isEmpty else { return [] }
        let expressions = try frames.map(expression)
        let n = expressions.count
        // T: the frames upstream samples (rows zero-padded to the multiple), of which it renders T − 4.
        let rowsPerFrame = 2
        var sampled = n
        while (rowsPerFrame * sampled) % padRowsMultiple != 0 { sampled += 1 }
        let rendered = max(1, min(n, sampled - 4))
        let raw = try expressions.enumerated().map { try keypoints.keypoints(exp: $0.element, pose: poses.pose(frame: $0.offset)) }
        var kp = try KeypointSmoother.smooth(Array(raw.prefix(rendered)))
        if n > rendered { kp += try KeypointSmoother.smooth(raw).suffix(n - rendered) }
        let cameras = poses.utteranceCameras(count: max(sampled, n))
        return (0..<n).map { i in
            MotionFrame(index: frames[i].index, coefficients: expressions[i] + kp[i] + cameras[i])
        }
    }
}

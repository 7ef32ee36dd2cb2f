/// Where a session's head poses and EG3D cameras come from (docs/avatars.md §4.3; upstream
/// `mimictalk_infer.py` and `infer_utils`): a static pose, or a pose track played ping-pong
/// (0 … L−1, L−1 … 0, 0 …) with trans-z fixed to the track's frame 0 and, with `mapToInit` (upstream's default),
/// euler and trans offset so that frame 0 equals the reference pose. Cameras are smoothed over 7 frames.
public struct PoseSource: Sendable {
    public static let smoothingFrames = 7
    static let half = smoothingFrames / 2

    public let reference: HeadPose
    /// The track's rows; empty for a static pose.
    public let track: [HeadPose]
    public let mapToInit: Bool

    private init(reference: HeadPose, track: [HeadPose], mapToInit: Bool) {
        self.reference = reference
        self.track = track
        self.mapToInit = mapToInit
    }

    /// The reference pose on every frame.
    public static func `static`(_ pose: HeadPose) -> PoseSource { PoseSource(reference: pose, track: [], mapToInit: false) }

    /// A pose track (at least one row) anchored at the reference pose.
    public static func track(_ poses: [HeadPose], reference: HeadPose, mapToInit: Bool = true) throws -> PoseSource {
        guard !poses.isEmpty else { throw FaceModelError("a pose track needs at least one frame") }
        return PoseSource(reference: reference, track: poses, mapToInit: mapToInit)
    }

    /// Upstream `mirror_index`: the track row of frame `index` (negative frames mirror the same way).
    public static func mirrorIndex(_ index: Int, length: Int) -> Int {
        let turn = index >= 0 ? index / length : (index + 1) / length - 1, rest = index - turn * length
        return turn % 2 == 0 ? rest : length - rest - 1
    }

    /// The pose of frame `frame` (counted from the session's start).
    public func pose(frame: Int) -> HeadPose {
        guard let anchor = track.first else { return reference }
        let row = track[Self.mirrorIndex(frame, length: track.count)]
        var euler = row.euler, trans = row.trans
        trans.z = anchor.trans.z
        if mapToInit {
            euler += reference.euler - anchor.euler
            trans += reference.trans - anchor.trans
        }
        return HeadPose(euler: euler, trans: trans)
    }

    /// Upstream's offline path: the cameras of frames 0 ..< count, smoothed over that sequence with the window
    /// clipped at both ends. (Upstream smooths over all T motion rows and renders the first T − 4.)
    public func utteranceCameras(count: Int) -> [[Float]] {
        let raw = (0..<max(count, 0)).map { EG3DCamera.c2w(pose: pose(frame: $0)) }
        return raw.indices.map { i in
            EG3DCamera.smoothed(Array(raw[max(0, i - Self.half)...min(raw.count - 1, i + Self.half)]))
        }
    }

    /// The camera of frame `frame` of an endless session: one long smoothed sequence from frame 0, its window
    /// clipped only there (uses the poses of frames up to `frame` + 3, which a track or static pose always has).
    public func liveCamera(frame: Int) throws -> [Float] {
        guard frame >= 0 else { throw FaceModelError("live camera frame \(frame) is before the session start") }
        return EG3DCamera.smoothed((max(0, frame - Self.half)...(frame + Self.half)).map { EG3DCamera.c2w(pose: pose(frame: $0)) })
    }
}

/// Temporal smoothing of keypoint frames before rendering (docs/avatars.md §4.2; upstream
/// `smooth_features_xd`): a box filter of 7 frames over time with flip padding at both ends,
/// frame 0 = (x2 + x1 + x0 + x0 + x1 + x2 + x3)/7, and symmetrically at the end. Sums run in Double.
///
/// Streams: `push` returns the frames that are final (frame i once frame i + 3 has arrived: 3 frames of
/// look-ahead), `flush` ends the sequence (flip padding at the end), returns the rest and leaves the smoother
/// empty for the next sequence. Pushing frames one by one and flushing gives exactly `smooth` of the sequence.
///
/// Sequences shorter than 3 frames (upstream fails on them): the missing reflected frames are replaced by the
/// nearest end frame (edge replication), so 1 frame stays as it is and 2 frames a, b give (4a + 3b)/7 and
/// (3a + 4b)/7.
public struct KeypointSmoother: Sendable {
    public static let window = 7
    public static let lookahead = window / 2

    /// Frames from global index `first` on (older ones are no longer needed).
    private var kept: [[Double]] = []
    private var first = 0
    private var received = 0
    private var emitted = 0
    private var width: Int?

    public init() {}

    /// Adds the next frame; returns the frames that became final (none for the first 3 frames).
    public mutating func push(_ kp: [Float]) throws -> [[Float]] {
        if let width, kp.count != width {
            throw FaceModelError("keypoint smoothing: frame \(received) has \(kp.count) values, the earlier frames \(width)")
        }
        guard !kp.isEmpty, kp.allSatisfy(\.isFinite) else {
            throw FaceModelError("keypoint smoothing: frame \(received) is empty or not finite")
        }
        width = kp.count
        kept.append(kp.map(Double.init))
        received += 1
        var out: [[Float]] = []
        while emitted + Self.lookahead < received {
            out.append(smoothed(emitted, total: nil))
            emitted += 1
        }
        let keepFrom = max(0, emitted - Self.lookahead)
        if keepFrom > first {
            kept.removeFirst(keepFrom - first)
            first = keepFrom
        }
        return out
    }

    /// Ends the sequence: the remaining frames with flip padding at the end; then starts over.
    public mutating func flush() -> [[Float]] {
        let out = (emitted..<received).map { smoothed($0, total: received) }
        reset()
        return out
    }

    /// Drops the current sequence without returning its pending frames.
    public mutating func reset() {
        self = KeypointSmoother()
    }

    /// The whole sequence at once (the same numbers as pushing every frame and flushing).
    public static func smooth(_ frames: [[Float]]) throws -> [[Float]] {
        var smoother = KeypointSmoother()
        var out: [[Float]] = []
        for f in frames { out += try smoother.push(f) }
        return out + smoother.flush()
    }

    /// Frame i averaged over i − 3 … i + 3; `total` is the sequence length once known (end padding needed).
    private func smoothed(_ i: Int, total: Int?) -> [Float] {
        var acc = [Double](repeating: 0, count: width ?? 0)
        for j in (i - Self.lookahead)...(i + Self.lookahead) {
            let frame = kept[source(j, total: total) - first]
            for k in acc.indices { acc[k] += frame[k] }
        }
        return acc.map { Float($0 / Double(Self.window)) }
    }

    /// Which frame stands at position j: itself inside the sequence, its mirror image outside (x2 x1 x0 | x0 …
    /// x_{T−1} | x_{T−1} x_{T−2} x_{T−3}), or the end frame itself when there are fewer than 3 frames.
    private func source(_ j: Int, total: Int?) -> Int {
        let flip = (total ?? Int.max) >= Self.lookahead
        if j < 0 { return flip ? -j - 1 : 0 }
        if let total, j >= total { return flip ? 2 * total - 1 - j : total - 1 }
        return j
    }
}

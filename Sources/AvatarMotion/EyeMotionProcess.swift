import Foundation

/// Blinks and gaze of one session (docs/demo-avatar.md §6), a pure function of the frame index and the seed: the
/// value of frame f does not depend on which frames were asked for before, so skipped or dropped frames and
/// interruptions do not disturb it, and a session replays identically from the same seed.
///
/// Blinks: the closed instants are frame times, one interval (uniform in `blinkInterval`, whole frames) apart;
/// each blink closes both lids over `blinkCloseFraction` of its duration (uniform in `blinkDuration`) and opens
/// them, slower, over the rest (half-cosine ramps). Gaze: fixations held for a duration uniform in `fixation`,
/// joined by saccades of `saccade` seconds; each target lies in the ellipse of the gaze amplitudes, or, with
/// probability `returnToCentre`, near the centre. Events are drawn from SplitMix64 over (seed, stream, event,
/// draw) and cached as they are reached.
public final class EyeMotionProcess {
    public struct Values: Sendable, Equatable {
        public var blinkLeft: Float
        public var blinkRight: Float
        public var eyesLeft: Float
        public var eyesUp: Float
    }

    public struct Blink: Sendable, Equatable {
        /// Seconds: first lid movement, fully closed (a frame time), open again.
        public let start: Double
        public let closed: Double
        public let end: Double
        /// How far each lid closes (1 = fully).
        public let depthLeft: Double
        public let depthRight: Double
    }

    public struct Fixation: Sendable, Equatable {
        /// Seconds: the saccade towards `target` starts, the gaze arrives, the next saccade starts.
        public let start: Double
        public let arrival: Double
        public let end: Double
        /// (eyes_left, eyes_up).
        public let left: Double
        public let up: Double
    }

    public let config: EyeMotionConfig
    public let fps: Int
    public let seed: UInt64
    private var blinks: [Blink] = []
    private var fixations: [Fixation] = []

    public init(config: EyeMotionConfig, fps: Int, seed: UInt64) {
        self.config = config
        self.fps = max(1, fps)
        self.seed = seed
    }

    /// Eye values of frame `frame` (time frame / fps).
    public func values(frame: Int) -> Values {
        let t = Double(frame) / Double(fps)
        var lid = (0.0, 0.0)
        if let b = blink(at: t) {
            let closing = t <= b.closed
            let u = closing ? (t - b.start) / max(b.closed - b.start, 1e-9) : (t - b.closed) / max(b.end - b.closed, 1e-9)
            let amount = closing ? (1 - cos(Double.pi * u)) / 2 : (1 + cos(Double.pi * u)) / 2
            lid = (amount * b.depthLeft, amount * b.depthRight)
        }
        let i = fixationIndex(at: t), f = fixations[i]
        var left = f.left, up = f.up
        if t < f.arrival, i > 0 {
            let previous = fixations[i - 1]
            let u = (t - f.start) / max(f.arrival - f.start, 1e-9)
            let s = u * u * (3 - 2 * u)
            left = previous.left + (f.left - previous.left) * s
            up = previous.up + (f.up - previous.up) * s
        }
        return Values(blinkLeft: Float(lid.0), blinkRight: Float(lid.1), eyesLeft: Float(left), eyesUp: Float(up))
    }

    /// Blinks whose start is at or before `seconds`.
    public func blinks(through seconds: Double) -> [Blink] {
        extendBlinks(past: seconds)
        return blinks.filter { $0.start <= seconds }
    }

    /// Fixations whose saccade starts at or before `seconds`.
    public func fixations(through seconds: Double) -> [Fixation] {
        extendFixations(past: seconds)
        return fixations.filter { $0.start <= seconds }
    }

    // MARK: events

    private func blink(at t: Double) -> Blink? {
        extendBlinks(past: t)
        // Blinks do not overlap (the longest blink is shorter than the shortest interval): the last one started.
        var lo = 0, hi = blinks.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if blinks[mid].start <= t { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0 else { return nil }
        let b = blinks[lo - 1]
        return t < b.end ? b : nil
    }

    private func fixationIndex(at t: Double) -> Int {
        extendFixations(past: t)
        var lo = 0, hi = fixations.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if fixations[mid].start <= t { lo = mid + 1 } else { hi = mid }
        }
        return max(lo - 1, 0)
    }

    private func extendBlinks(past t: Double) {
        let c = config, rate = Double(fps)
        while blinks.last.map({ $0.start <= t }) ?? true {
            let k = blinks.count
            let closedFrame: Int
            if let last = blinks.last {
                let lo = Int((c.blinkInterval.lowerBound * rate).rounded(.up)), hi = max(lo, Int((c.blinkInterval.upperBound * rate).rounded(.down)))
                closedFrame = Int((last.closed * rate).rounded()) + lo + min(hi - lo, Int(draw(1, k, 0) * Double(hi - lo + 1)))
            } else {
                // The first blink comes somewhere within the first interval (not at the session's first frame).
                let lo = Int((c.blinkDuration.upperBound * rate).rounded(.up)), hi = max(lo, Int((c.blinkInterval.upperBound * rate).rounded(.down)))
                closedFrame = lo + min(hi - lo, Int(draw(1, k, 0) * Double(hi - lo + 1)))
            }
            let closed = Double(closedFrame) / rate
            let duration = c.blinkDuration.lowerBound + (c.blinkDuration.upperBound - c.blinkDuration.lowerBound) * draw(1, k, 1)
            var depth = (1.0, 1.0)
            if draw(1, k, 2) < c.blinkAsymmetry {
                let lighter = 0.85 + 0.1 * draw(1, k, 3)
                depth = draw(1, k, 4) < 0.5 ? (lighter, 1) : (1, lighter)
            }
            blinks.append(Blink(start: closed - c.blinkCloseFraction * duration, closed: closed,
                                end: closed + (1 - c.blinkCloseFraction) * duration, depthLeft: depth.0, depthRight: depth.1))
        }
    }

    private func extendFixations(past t: Double) {
        let c = config
        if fixations.isEmpty {
            // The session opens looking at the camera.
            let hold = c.fixation.lowerBound + (c.fixation.upperBound - c.fixation.lowerBound) * draw(2, 0, 0)
            fixations.append(Fixation(start: 0, arrival: 0, end: hold, left: 0, up: 0))
        }
        while let last = fixations.last, last.end <= t {
            let k = fixations.count
            let hold = c.fixation.lowerBound + (c.fixation.upperBound - c.fixation.lowerBound) * draw(2, k, 0)
            var left: Double, up: Double
            if draw(2, k, 1) < c.returnToCentre {
                left = 0.2 * c.gazeAmplitude * (2 * draw(2, k, 2) - 1)
                up = 0.2 * c.gazeVerticalAmplitude * (2 * draw(2, k, 3) - 1)
            } else {
                let angle = 2 * Double.pi * draw(2, k, 2), radius = sqrt(draw(2, k, 3))
                left = c.gazeAmplitude * radius * cos(angle)
                up = c.gazeVerticalAmplitude * radius * sin(angle)
            }
            fixations.append(Fixation(start: last.end, arrival: last.end + c.saccade, end: last.end + c.saccade + hold, left: left, up: up))
        }
    }

    /// Uniform in [0, 1) from (seed, stream, event, draw): SplitMix64 finalizer chained over the inputs, 53 bits.
    private func draw(_ stream: UInt64, _ event: Int, _ k: UInt64) -> Double {
        func mix(_ z0: UInt64) -> UInt64 {
            var z = z0 &+ 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let x = mix(mix(mix(mix(seed) ^ stream) ^ UInt64(event)) ^ k)
        return Double(x >> 11) / Double(UInt64(1) << 53)
    }
}

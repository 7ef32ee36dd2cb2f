public import AvatarFormats
import AvatarMedia
import AvatarStages
import Foundation
import Synchronization

/// Test double: an avatar whose "motion" is the audio envelope and whose frame is a grey field with a
/// white bar whose height is that envelope, so tests can check sync by decoding pixels or motion.
public struct EnvelopeAvatar: Avatar {
    public var name = "envelope"
    public var description = "test avatar: mouth bar follows the audio envelope"
    public var width = 64
    public var height = 64
    public var fps = 25
    public var styles = ["calm"]
    public var defaultStyle: String? = "calm"
    public var motionNames = ["jaw_open"]
    public var rendersVideo = true
    /// Feature rows of look-ahead the motion stage waits for (to exercise flush and underrun paths).
    public var lookaheadRows = 2
    /// Seconds each frame takes to render (to exercise late frames in live mode).
    public var renderDelay: Double = 0
    /// Seconds of motion compute per frame (to exercise a live session that cannot keep up).
    public var motionDelay: Double = 0
    /// Declared algorithmic latency (0: the configured output delay is used as is).
    public var algorithmicLatencyMs = 0
    /// Frames the renderer lets the session keep in flight, and where it records how many it saw at once.
    public var framesInFlight = 1
    public var inFlightProbe: InFlightProbe?

    public init() {}

    public func makeStages(options: SessionStageOptions) throws -> SessionStages {
        SessionStages(features: EnvelopeFeatures(), motion: EnvelopeMotion(lookahead: lookaheadRows, delay: motionDelay),
                      frames: BarRenderer(width: width, height: height, delay: renderDelay, framesInFlight: framesInFlight,
                                          probe: inFlightProbe))
    }
}

/// RMS per 20 ms (320 samples at 16 kHz): 50 rows per second, one column.
public final class EnvelopeFeatures: AudioFeatureStage {
    public init() {}
    public var rowsPerSecond: Int { 50 }
    public var dimension: Int { 1 }
    private var pending: [Float] = []

    public func append(_ samples: [Float]) throws -> FeatureRows {
        pending += samples
        var rows: [Float] = []
        while pending.count >= 320 {
            let chunk = pending[0..<320]
            rows.append((chunk.reduce(0) { $0 + $1 * $1 } / 320).squareRoot())
            pending.removeFirst(320)
        }
        return FeatureRows(dimension: 1, values: rows)
    }

    public func flush() throws -> FeatureRows {
        guard !pending.isEmpty else { return FeatureRows(dimension: 1) }
        let padded = pending + [Float](repeating: 0, count: 320 - pending.count % 320)
        pending = []
        var rows: [Float] = []
        for i in stride(from: 0, to: padded.count, by: 320) {
            let chunk = padded[i..<(i + 320)]
            rows.append((chunk.reduce(0) { $0 + $1 * $1 } / 320).squareRoot())
        }
        return FeatureRows(dimension: 1, values: rows)
    }

    public func reset() { pending = [] }
}

/// Pairs of rows → one frame; holds `lookahead` rows back as a model with look-ahead would.
public final class EnvelopeMotion: MotionStage {
    public var dimension: Int { 1 }
    private var rows: [Float] = []
    private var emitted = 0
    private let lookahead: Int
    private let delay: Double

    public init(lookahead: Int, delay: Double = 0) {
        self.lookahead = lookahead
        self.delay = delay
    }

    public func append(_ features: FeatureRows) throws -> [MotionFrame] {
        rows += features.values
        return take(limit: rows.count - lookahead)
    }

    public func flush() throws -> [MotionFrame] {
        if rows.count % 2 == 1 { rows.append(0) }
        return take(limit: rows.count)
    }

    public func interrupt(lastRendered: MotionFrame?) {
        rows.removeAll()
        emitted = 0
    }

    private func take(limit: Int) -> [MotionFrame] {
        var out: [MotionFrame] = []
        while 2 * (out.count + 1) <= limit {
            let i = 2 * out.count
            out.append(MotionFrame(index: emitted + out.count, coefficients: [min(1, (rows[i] + rows[i + 1]) * 2.5)]))
        }
        rows.removeFirst(2 * out.count)
        emitted += out.count
        if delay > 0, !out.isEmpty { usleep(UInt32(delay * Double(out.count) * 1e6)) }
        return out
    }
}

/// Grey frame with a white bar, height = jaw × frame height.
public final class BarRenderer: FrameStage {
    public let width: Int
    public let height: Int
    let delay: Double
    public let framesInFlight: Int
    let probe: InFlightProbe?
    private var pending: [MotionFrame] = []

    public init(width: Int, height: Int, delay: Double, framesInFlight: Int = 1, probe: InFlightProbe? = nil) {
        self.width = width
        self.height = height
        self.delay = delay
        self.framesInFlight = framesInFlight
        self.probe = probe
    }

    public func submit(_ motion: MotionFrame) throws {
        guard pending.count < framesInFlight else { throw InFlightProbe.Overflow() }
        pending.append(motion)
        probe?.saw(pending.count)
    }

    public func complete() throws -> I420Frame {
        let motion = pending.removeFirst()
        if delay > 0 { usleep(UInt32(delay * 1e6)) }
        var frame = I420Frame(width: width, height: height, y: 60)
        let bar = Int((motion.coefficients[0] * Float(height)).rounded())
        for y in (height - bar)..<height {
            for x in (width / 4)..<(3 * width / 4) { frame.data[y * width + x] = 235 }
        }
        return frame
    }
}

/// The most frames a test renderer had in flight at once.
public final class InFlightProbe: Sendable {
    private let most = Mutex(0)

    public struct Overflow: Error {}

    public init() {}

    func saw(_ count: Int) { most.withLock { $0 = max($0, count) } }

    public var maximum: Int { most.withLock { $0 } }
}

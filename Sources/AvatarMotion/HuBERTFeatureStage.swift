public import AvatarStages

/// Streaming HuBERT (docs/motion.md §1.3): the encoder runs on a sliding window of rows
/// `[end − window, end)` with `end = next + hop + lookahead`, and emits rows `[next, next + hop)`.
/// Rows before `next` are left context, the last `lookahead` rows are computed and discarded. At the start
/// the window grows from row 0 (then it equals utterance mode on that prefix).
///
/// Normalisation: every window is normalised with the running mean and population variance of **all**
/// samples from the start (or the last `reset`) up to the window's last sample, so the result does not
/// depend on how the audio was packetised and converges to the whole-utterance statistics.
///
/// Row count: `flush` returns rows for all audio appended, ⌈N / stride⌉ in all (the same count as the
/// log-mel stage), encoding the missing tail with zeros in the normalised domain.
///
/// Not thread-safe: a session's render thread owns it (as the `AudioFeatureStage` contract says).
public final class HuBERTFeatureStage: AudioFeatureStage {
    /// Window geometry in feature rows (50 per second).
    public struct Window: Sendable, Equatable {
        public var leftContext: Int
        public var hop: Int
        public var lookahead: Int

        /// 2 s of left context, 160 ms hops (4 motion frames), 80 ms look-ahead.
        public static let standard = Window(leftContext: 100, hop: 8, lookahead: 4)

        public init(leftContext: Int, hop: Int, lookahead: Int) {
            self.leftContext = leftContext
            self.hop = hop
            self.lookahead = lookahead
        }

        public var rows: Int { leftContext + hop + lookahead }
    }

    public let encoder: HuBERTEncoder
    public let window: Window
    private var config: HuBERTConfig { encoder.config }
    /// Raw samples from absolute sample `base` on.
    private var samples: [Float] = []
    private var base = 0
    private var appended = 0
    /// Next row to emit.
    private var next = 0
    /// Statistics over samples [0, statsEnd).
    private var statistics = HuBERTInputStatistics()
    private var statsEnd = 0

    public init(encoder: HuBERTEncoder, window: Window = .standard) throws {
        guard window.hop > 0, window.leftContext >= 0, window.lookahead >= 0 else {
            throw MotionModelError("hubert", "streaming window needs hop > 0 and non-negative left context and look-ahead, got \(window)")
        }
        self.encoder = encoder
        self.window = window
    }

    public var rowsPerSecond: Int { config.rowsPerSecond }
    public var dimension: Int { config.hiddenSize }

    /// Audio time from a row's last sample to the moment it can be emitted: hop + look-ahead rows.
    public var algorithmicLatencySeconds: Double { Double(window.hop + window.lookahead) / Double(config.rowsPerSecond) }

    public func append(_ newSamples: [Float]) throws -> FeatureRows {
        samples += newSamples
        appended += newSamples.count
        var out = FeatureRows(dimension: dimension)
        let available = config.rows(samples: appended)
        while next + window.hop + window.lookahead <= available {
            let end = next + window.hop + window.lookahead
            out.append(try emit(from: next, to: next + window.hop, windowEnd: end))
            next += window.hop
        }
        trim()  // once per append: a long append (offline) must not shift the buffer per window
        return out
    }

    public func flush() throws -> FeatureRows {
        defer { reset() }
        var out = FeatureRows(dimension: dimension)
        guard appended > 0 else { return out }
        let wanted = (appended + config.stride - 1) / config.stride
        while next < wanted {
            let end = min(wanted, next + window.hop + window.lookahead)
            let emitEnd = end == wanted ? wanted : next + window.hop
            out.append(try emit(from: next, to: emitEnd, windowEnd: end))
            next = emitEnd
        }
        return out
    }

    public func reset() {
        samples.removeAll()
        base = 0
        appended = 0
        next = 0
        statistics = HuBERTInputStatistics()
        statsEnd = 0
    }

    /// Encodes the window ending at row `windowEnd` and returns its rows [from, to).
    private func emit(from: Int, to: Int, windowEnd: Int) throws -> FeatureRows {
        let c = config
        let start = max(0, windowEnd - max(window.rows, to - from + window.leftContext))
        let first = start * c.stride
        let last = c.samples(rows: windowEnd - start) + first
        let real = min(last, appended)
        if real > statsEnd {
            statistics.add(samples[(statsEnd - base)..<(real - base)])
            statsEnd = real
        }
        var x = c.normalizeInput
            ? statistics.normalize(samples[(first - base)..<(real - base)], eps: c.normalizeEps)
            : Array(samples[(first - base)..<(real - base)])
        if last > real { x += [Float](repeating: 0, count: last - real) }
        let values = try encoder.encode(normalized: x)
        let h = c.hiddenSize
        guard values.count == (windowEnd - start) * h else {
            throw MotionModelError("hubert", "streaming window gave \(values.count / h) rows, expected \(windowEnd - start)")
        }
        return FeatureRows(dimension: h, values: Array(values[((from - start) * h)..<((to - start) * h)]))
    }

    /// Drops samples no later window can reach (windows start at most `window.rows` rows before `next`).
    private func trim() {
        let keepFrom = max(0, next - window.rows - 1) * config.stride
        let keepFromBounded = min(keepFrom, statsEnd)
        if keepFromBounded > base {
            samples.removeFirst(keepFromBounded - base)
            base = keepFromBounded
        }
    }
}

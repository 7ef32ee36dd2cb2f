/// The network side's estimate of how much session timeline one client packet adds: its own duration plus
/// the silence its `ts` gap asks for (at most `maxGap48k`, as `OpusPacketReceiver` inserts). Counting the
/// gap against `max_buffer_seconds` means a client cannot make the render thread decode and render a
/// minute of silence per 20 ms packet: once the estimate is over the buffer limit, the socket is not read.
///
/// Arithmetic is total: ts differences are u64 serial-number distances (ts wraps around at 2^64).
public struct InboundAudioCost: Sendable {
    public let maxGap48k: Int64
    /// Client ts just after the newest audio counted (nil before the first packet and after an interrupt).
    private var nextTs: UInt64?

    /// Duration counted for a packet whose TOC cannot be read: the longest Opus packet (120 ms), which is
    /// what the receiver may conceal for it.
    public static let unreadableDuration48k = 5760

    public init(maxGapSeconds: Double) {
        let seconds = maxGapSeconds.isFinite ? min(3600, max(0.02, maxGapSeconds)) : 60
        maxGap48k = Int64(seconds * 48000)
    }

    /// 48 kHz samples of timeline the packet will add (never negative, at most `maxGap48k` + 120 ms).
    public mutating func cost(ts: UInt64, duration48k: Int?) -> Int {
        let duration = min(max(0, duration48k ?? Self.unreadableDuration48k), Self.unreadableDuration48k)
        let end = ts &+ UInt64(duration)
        guard let next = nextTs else {
            nextTs = end
            return duration
        }
        let ahead = Int64(bitPattern: ts &- next)
        if ahead >= 0 {
            nextTs = end
            return duration + Int(min(ahead, maxGap48k))
        }
        if ahead < -maxGap48k {
            // The receiver re-anchors such a packet at the timeline's end: no gap.
            nextTs = end
            return duration
        }
        // Overlaps audio already counted (reordered or trimmed): at most its own duration.
        if Int64(bitPattern: end &- next) > 0 { nextTs = end }
        return duration
    }

    /// `input.interrupt`: the next packet continues the timeline wherever its ts is.
    public mutating func reset() { nextTs = nil }
}

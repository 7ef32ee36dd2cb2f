/// The session timeline at 16 kHz: an append-only sequence of samples (client audio, concealment and
/// inserted silence) whose position p corresponds to stream time p/16000 s. Frame k covers
/// [k·16000/fps, (k+1)·16000/fps). Samples are handed to the stages on demand; original Opus packets wait
/// here until the frame that contains them is pushed, so audio and video leave the session together.
struct AudioTimeline {
    struct Packet {
        var position: Int
        var data: [UInt8]
        var duration48k: Int
    }

    struct Anchor {
        var position: Int
        var ts: UInt64
        var arrival: ContinuousClock.Instant?
    }

    let fps: Int
    /// Samples not yet handed to the stages; the first is at `fedEnd`.
    private(set) var unfed: [Float] = []
    private(set) var fedEnd = 0
    /// Output audio not yet pushed, in position order.
    private(set) var packets: [Packet] = []
    /// Where client audio (as opposed to inserted silence) starts on the timeline, for latency and ts mapping.
    private(set) var anchors: [Anchor] = []

    init(fps: Int) { self.fps = fps }

    var end: Int { fedEnd + unfed.count }

    func frameStart(_ k: Int) -> Int { k * 16000 / fps }

    /// Appends samples. `ts` and `arrival` mark client audio; nil marks inserted silence.
    mutating func append(_ samples: [Float], ts: UInt64?, arrival: ContinuousClock.Instant?, packet: [UInt8]?, duration48k: Int) {
        if let ts {
            anchors.append(Anchor(position: end, ts: ts, arrival: arrival))
            if anchors.count > 4096 { anchors.removeFirst(anchors.count - 2048) }
        }
        if let packet { packets.append(Packet(position: end, data: packet, duration48k: duration48k)) }
        unfed.append(contentsOf: samples)
    }

    /// Takes up to `limit` samples for the stages.
    mutating func takeUnfed(upTo position: Int) -> [Float] {
        let n = max(0, min(unfed.count, position - fedEnd))
        guard n > 0 else { return [] }
        let out = Array(unfed[0..<n])
        unfed.removeFirst(n)
        fedEnd += n
        return out
    }

    /// Packets that start before `position` (the end of the frame being pushed).
    mutating func takePackets(before position: Int) -> [Packet] {
        let n = packets.firstIndex(where: { $0.position >= position }) ?? packets.count
        let out = Array(packets[0..<n])
        packets.removeFirst(n)
        return out
    }

    /// Drops everything after `position` (input.interrupt).
    mutating func truncate(to position: Int) {
        unfed.removeAll()
        fedEnd = position
        packets.removeAll { $0.position >= position }
        anchors.removeAll { $0.position >= position }
    }

    /// The client's ts (48 kHz) at a timeline position: the last client audio at or before it. Client ts
    /// wraps around at 2^64 (serial-number arithmetic), so this does too.
    func ts(at position: Int) -> UInt64 {
        guard let a = anchors.last(where: { $0.position <= position }) else { return 0 }
        return a.ts &+ UInt64(max(0, position - a.position)) &* 3
    }

    /// Arrival time of the latest client audio that starts inside [start, end).
    func latestArrival(in range: Range<Int>) -> ContinuousClock.Instant? {
        var latest: ContinuousClock.Instant?
        for a in anchors.reversed() {
            if a.position < range.lowerBound { break }
            if a.position < range.upperBound, let t = a.arrival { latest = max(latest ?? t, t) }
        }
        return latest
    }
}

extension AudioTimeline {
    /// Adds an output packet at a position already on the timeline (silence filling a gap).
    mutating func insertPacket(at position: Int, data: [UInt8], duration48k: Int) {
        let i = packets.firstIndex(where: { $0.position > position }) ?? packets.count
        packets.insert(Packet(position: position, data: data, duration48k: duration48k), at: i)
    }
}

/// Turns a session's incoming Opus packets (protocol v1: seq, ts in 48 kHz samples, payload) into a
/// continuous, sample-exact timeline at the decoder rate (16 kHz by default):
///
/// - The timeline starts at the first packet's `ts` (its *origin*; clients need not start at 0). Output
///   sample `i` is 48 kHz time `origin + 3·i`, so a packet with timestamp `ts` begins at index
///   `(ts − origin) / 3` (rounded down), whatever happened before it.
/// - Gaps in `seq` are losses: the time up to the packet's `ts` is concealed (PLC, and FEC from the
///   packet itself for the frame just before it) and the missing packets are counted in `packetsLost`.
/// - A gap in `ts` with consecutive `seq` is silence (DTX or a paused speaker) and is filled with zeros.
/// - A packet whose `seq` was already received is a duplicate; one older than the playout point (its slot
///   was concealed already, or it is out of the tracked window) is late. Both are dropped and counted.
/// - A packet libopus cannot decode (or with an invalid TOC) is concealed for its duration (the previous
///   packet's when its TOC is unreadable) and counted in `decodeErrors` and `packetsLost`.
/// - `seq` uses u32 serial-number arithmetic and `ts` u64 serial-number arithmetic, so both wrap around
///   (an RTP-style random origin near 2^64 works like any other).
/// - Untrusted numbers never trap: a `ts` more than `maxGap` ahead of the timeline's end inserts only
///   `maxGap` of silence and moves the mapping (a discontinuity); a `ts` more than `maxGap` behind it with
///   a new `seq` is the sender's clock jumping back, and the packet continues the timeline at its end (a
///   discontinuity too); a `seq` jump of more packets than `maxGap` could hold (2.5 ms each) is the
///   sender's counter jumping, not a loss, and counts nothing in `packetsLost`.
///
/// Not thread-safe (a value type owned by one session's render thread). Each `Result` says what to append.
public struct OpusPacketReceiver {
    /// What one packet contributed.
    public struct Result {
        /// Samples to append to the timeline: concealment or silence for any gap first, then the packet's
        /// own audio. Empty for dropped packets.
        public var samples: [Float] = []
        /// Timeline index of `samples[0]` (output rate, from the origin).
        public var position = 0
        /// How many leading samples are concealment (PLC/FEC) and how many, after those, are silence;
        /// the rest is the packet's decoded audio (or its concealment when it was undecodable).
        public var concealedSamples = 0
        public var silenceSamples = 0
        /// The accepted original packet (for the output audio), nil if the packet was dropped or undecodable.
        public var packet: Packet?
        /// Packets counted as lost by this call (the seq gap, plus this one when it was undecodable).
        public var lost = 0
        public var decodeErrors = 0
        public var duplicate = false
        public var late = false
        /// The ts jumped further than `maxGap`: only `maxGap` of silence was inserted and the timeline's
        /// mapping to client time moved (`origin` changed).
        public var discontinuity = false

        /// Dropped without touching the timeline.
        public var dropped: Bool { duplicate || late }
    }

    /// An accepted packet as it will be muxed: its payload, client ts and duration (48 kHz samples).
    public struct Packet: Sendable, Equatable {
        public var data: [UInt8]
        public var ts: UInt64
        public var duration48k: Int
        /// Timeline index (output rate) of its first sample.
        public var position: Int = 0

        public init(data: [UInt8], ts: UInt64, duration48k: Int, position: Int = 0) {
            self.data = data
            self.ts = ts
            self.duration48k = duration48k
            self.position = position
        }
    }

    // Totals since the session started.
    public private(set) var packetsReceived = 0
    public private(set) var packetsAccepted = 0
    public private(set) var packetsLost = 0
    public private(set) var duplicates = 0
    public private(set) var late = 0
    public private(set) var decodeErrors = 0
    public private(set) var discontinuities = 0
    /// Output samples of concealment and of silence inserted so far.
    public private(set) var concealedSamples = 0
    public private(set) var silenceSamples = 0
    /// Duplicates plus late packets.
    public var packetsDropped: Int { duplicates + late }

    /// 48 kHz client time of timeline index 0, modulo 2^64 (nil until the first packet; after `reset()` or a
    /// discontinuity it may lie anywhere relative to the first packet's ts).
    public private(set) var origin: UInt64?
    /// Length of the timeline so far, in output samples.
    public var position: Int { outputIndex(end48k) }

    /// Longest silence one ts gap may insert; a longer jump is a discontinuity (the client's clock jumped).
    public let maxGap48k: Int64
    /// Longest concealment for one loss burst; beyond it libopus would only fade out, so it is silence.
    public let maxConceal48k: Int64

    private let decoder: OpusDecoder
    private let rate: Int
    /// Next expected seq, and which of the 64 seqs before it were received (bit i: seq expected−1−i).
    private var expectedSeq: UInt32?
    private var receivedMask: UInt64 = 0
    /// End of the timeline in 48 kHz samples from the origin.
    private var end48k: Int64 = 0
    /// Set by `reset()`: the next packet continues the timeline where it is, whatever its ts.
    private var reanchor = false
    private var lastDuration48k = 960

    /// Largest `seq` gap counted as lost packets: as many 2.5 ms packets as `maxGap` holds.
    public var maxLostBurst: Int { Int(maxGap48k / 120) }

    /// `maxGapSeconds` is clamped to 0.02 s ... 3600 s.
    public init(outputSampleRate: Int32 = 16000, maxGapSeconds: Double = 60, maxConcealMilliseconds: Int = 500) throws(OpusError) {
        decoder = try OpusDecoder(sampleRate: outputSampleRate)
        rate = Int(outputSampleRate)
        let gapSeconds = maxGapSeconds.isFinite ? min(3600, max(0.02, maxGapSeconds)) : 60
        maxGap48k = Int64(gapSeconds * 48000)
        maxConceal48k = Int64(min(60_000, max(0, maxConcealMilliseconds))) * 48
    }

    /// Output samples covering 48 kHz time [from, to) of the timeline (floor mapping keeps it sample-exact).
    private func outputCount(from: Int64, to: Int64) -> Int { outputIndex(to) - outputIndex(from) }

    /// Timeline index of 48 kHz time `t48k` (never negative: the timeline starts at 0).
    private func outputIndex(_ t48k: Int64) -> Int {
        let t = max(0, t48k)
        // Split so the product cannot overflow whatever the length.
        return Int(t / 48000 * Int64(rate) + (t % 48000) * Int64(rate) / 48000)
    }

    public mutating func receive(seq: UInt32, ts: UInt64, payload: [UInt8]) -> Result {
        packetsReceived += 1
        var result = Result()
        result.position = outputIndex(end48k)
        var seqGap = 0
        if let expected = expectedSeq {
            // Serial-number arithmetic: seq wraps around at 2^32.
            let distance = Int32(bitPattern: seq &- expected)
            if distance < 0 {
                let back = Int(-Int64(distance)) - 1
                if back < 64, receivedMask & (1 << UInt64(back)) != 0 {
                    result.duplicate = true
                    duplicates += 1
                } else {
                    result.late = true
                    late += 1
                }
                return result
            }
            seqGap = Int(distance)
        }
        markReceived(seq)
        if seqGap > maxLostBurst {
            // More packets than the time since the last one could hold: the sender's counter jumped.
            result.discontinuity = true
            discontinuities += 1
            seqGap = 0
        }
        if origin == nil { origin = ts }

        // Where this packet starts on the timeline.
        if reanchor {
            // After an interrupt: continue at the current end (the gap since the last packet is not audio).
            origin = ts &- UInt64(end48k)
            reanchor = false
            countLost(seqGap, into: &result)
            seqGap = 0
        }
        // Signed distance from the origin in u64 serial-number arithmetic: total for every ts.
        var start48k = Int64(bitPattern: ts &- (origin ?? ts))
        if start48k < end48k - maxGap48k {
            // A new packet far behind the timeline: the sender's clock jumped back; continue at the end.
            result.discontinuity = true
            discontinuities += 1
            origin = ts &- UInt64(end48k)
            start48k = end48k
        }
        if start48k > end48k {
            var gap = start48k - end48k
            if gap > maxGap48k {
                // The client's clock jumped: keep `maxGap` of silence and move the origin so ts still maps.
                result.discontinuity = true
                discontinuities += 1
                origin = (origin ?? ts) &+ UInt64(gap - maxGap48k)
                gap = maxGap48k
            }
            fillGap(gap, lostPackets: seqGap, next: payload, into: &result)
        } else if seqGap > 0 {
            // Packets are missing but their time is not (ts did not advance): count them only.
            countLost(seqGap, into: &result)
        }
        // A packet that starts before the timeline's end overlaps audio already placed there; its
        // overlapping part is trimmed so later timestamps keep their positions.
        let overlap48k = max(0, end48k - start48k)
        return decodePacket(ts: ts, payload: payload, trim48k: overlap48k, into: &result)
    }

    private mutating func countLost(_ count: Int, into result: inout Result) {
        guard count > 0 else { return }
        packetsLost += count
        result.lost += count
    }

    private mutating func markReceived(_ seq: UInt32) {
        if let expected = expectedSeq {
            let advance = UInt64(seq &- expected) + 1
            receivedMask = advance >= 64 ? 0 : receivedMask << advance
        }
        receivedMask |= 1
        expectedSeq = seq &+ 1
    }

    /// Fills `gap48k` before a packet: concealment when packets were lost, silence otherwise.
    private mutating func fillGap(_ gap48k: Int64, lostPackets: Int, next: [UInt8], into result: inout Result) {
        let before = end48k
        if lostPackets > 0 {
            countLost(lostPackets, into: &result)
            let conceal48k = min(gap48k, maxConceal48k)
            let concealCount = outputCount(from: before, to: before + conceal48k)
            if concealCount > 0 {
                // PLC fades from the last good audio; the final frame can come from this packet's FEC.
                let concealed = conceal48k == gap48k ? decoder.conceal(samples: concealCount, next: next)
                                                     : decoder.conceal(samples: concealCount)
                result.samples += concealed
                result.concealedSamples += concealCount
                concealedSamples += concealCount
            }
            end48k = before + conceal48k
        }
        let silence = outputCount(from: end48k, to: before + gap48k)
        if silence > 0 {
            result.samples += [Float](repeating: 0, count: silence)
            result.silenceSamples += silence
            silenceSamples += silence
        }
        end48k = before + gap48k
    }

    private mutating func decodePacket(ts: UInt64, payload: [UInt8], trim48k: Int64, into result: inout Result) -> Result {
        let toc = OpusDecoder.samples48k(payload)
        let duration = toc ?? lastDuration48k
        if trim48k >= Int64(duration) {
            // Entirely in the past of the timeline.
            result.late = true
            late += 1
            return result
        }
        let packetPosition = outputIndex(end48k)
        let count = outputCount(from: end48k, to: end48k + Int64(duration) - trim48k)
        var audio: [Float]?
        if toc != nil { audio = try? decoder.decode(payload) }
        if var audio, audio.count == duration * rate / 48000 {
            let drop = audio.count - count
            if drop > 0 { audio.removeFirst(drop) }
            result.samples += audio
            result.packet = Packet(data: payload, ts: ts, duration48k: duration, position: packetPosition)
            packetsAccepted += 1
            lastDuration48k = duration
        } else {
            // Undecodable: lost, concealed for its duration so the timeline keeps moving.
            result.decodeErrors += 1
            result.lost += 1
            decodeErrors += 1
            packetsLost += 1
            result.samples += decoder.conceal(samples: count)
            concealedSamples += count
        }
        end48k += Int64(duration) - trim48k
        return result
    }

    /// Interruption: forgets the decoder state, and the next packet continues the timeline at its current
    /// end whatever its ts (the pause around an interrupt is not audio). Duplicate/late detection goes on.
    public mutating func reset() {
        decoder.reset()
        if expectedSeq != nil { reanchor = true }
    }

    /// Forgets only the decoder state (seq/ts tracking and gap filling continue).
    public mutating func resetDecoder() { decoder.reset() }
}

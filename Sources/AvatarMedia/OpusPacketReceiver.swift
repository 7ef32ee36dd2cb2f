/// Turns a session's incoming Opus packets (protocol v1: seq, ts in 48 kHz samples, payload) into a
/// continuous 16 kHz timeline: losses (seq gaps) are concealed, ts gaps with consecutive seq become
/// silence, duplicates and late packets are dropped and counted, undecodable packets count as lost.
public struct OpusPacketReceiver {
    /// What one packet contributed.
    public struct Result {
        /// Samples to append to the timeline: concealment or silence for any gap, then the packet's own audio.
        public var samples: [Float] = []
        /// The accepted original packet (for the output audio), nil if the packet was dropped.
        public var packet: Packet?
        public var lost = 0
        public var decodeErrors = 0
        public var duplicate = false
        public var late = false
    }

    /// An accepted packet as it will be muxed: its payload, client ts and duration.
    public struct Packet: Sendable, Equatable {
        public var data: [UInt8]
        public var ts: UInt64
        public var duration48k: Int
    }

    /// Totals since the session started.
    public private(set) var packetsLost = 0
    public private(set) var packetsDropped = 0
    public private(set) var decodeErrors = 0

    private let decoder: OpusDecoder
    private let rate: Int
    private var expectedSeq: UInt32?
    private var expectedTs: UInt64 = 0
    /// Largest single concealment (a burst longer than this becomes silence: PLC would only fade out).
    private let maxConcealSamples48k = 48000

    public init(outputSampleRate: Int32 = 16000) throws(OpusError) {
        decoder = try OpusDecoder(sampleRate: outputSampleRate)
        rate = Int(outputSampleRate)
    }

    private func toOutput(_ samples48k: Int) -> Int { samples48k * rate / 48000 }

    public mutating func receive(seq: UInt32, ts: UInt64, payload: [UInt8]) -> Result {
        var result = Result()
        guard let expected = expectedSeq else {
            // The first packet starts the timeline at its ts (a client may not start at 0).
            expectedSeq = seq
            expectedTs = ts
            return accept(seq: seq, ts: ts, payload: payload, into: &result)
        }
        // Serial-number arithmetic: seq wraps around at 2^32.
        let distance = Int32(bitPattern: seq &- expected)
        if distance < 0 {
            // Already received, or older than the playout point.
            result.duplicate = distance == -1
            result.late = !result.duplicate
            packetsDropped += 1
            return result
        }
        if distance > 0 {
            // `distance` packets were lost between the last one and this one.
            result.lost = Int(distance)
            packetsLost += Int(distance)
            let gap48k = ts > expectedTs ? Int(min(ts - expectedTs, UInt64(maxConcealSamples48k * 10))) : 0
            let conceal48k = min(gap48k, maxConcealSamples48k)
            var concealed: [Float] = []
            if conceal48k > 0 {
                // Conceal in 20 ms steps; the last step can use this packet's FEC.
                var left = toOutput(conceal48k)
                let step = rate / 50
                while left > 0 {
                    let n = min(step, left)
                    let useFEC = left <= step
                    concealed += decoder.conceal(samples: n - n % (rate / 400), next: useFEC ? payload : nil)
                    concealed += [Float](repeating: 0, count: n % (rate / 400))
                    left -= n
                }
            }
            result.samples += concealed
            result.samples += [Float](repeating: 0, count: toOutput(gap48k - conceal48k))
            expectedTs = ts
        } else if ts > expectedTs {
            // Consecutive seq, later ts: DTX or a paused speaker → silence.
            result.samples += [Float](repeating: 0, count: toOutput(Int(min(ts - expectedTs, 48000 * 600))))
            expectedTs = ts
        }
        return accept(seq: seq, ts: ts, payload: payload, into: &result)
    }

    private mutating func accept(seq: UInt32, ts: UInt64, payload: [UInt8], into result: inout Result) -> Result {
        expectedSeq = seq &+ 1
        guard let duration = OpusDecoder.samples48k(payload) else {
            // Malformed TOC: treat as lost, conceal 20 ms so the timeline keeps moving.
            result.decodeErrors = 1
            result.lost += 1
            decodeErrors += 1
            packetsLost += 1
            result.samples += decoder.conceal(samples: rate / 50)
            expectedTs = max(expectedTs, ts) + 960
            return result
        }
        let audio: [Float]
        do {
            audio = try decoder.decode(payload)
        } catch {
            result.decodeErrors = 1
            result.lost += 1
            decodeErrors += 1
            packetsLost += 1
            result.samples += decoder.conceal(samples: toOutput(duration))
            expectedTs = max(expectedTs, ts) + UInt64(duration)
            return result
        }
        result.samples += audio
        result.packet = Packet(data: payload, ts: ts, duration48k: duration)
        expectedTs = max(expectedTs, ts) + UInt64(duration)
        return result
    }

    /// Forgets decoder state after an interruption (seq/ts tracking continues).
    public mutating func resetDecoder() { decoder.reset() }
}

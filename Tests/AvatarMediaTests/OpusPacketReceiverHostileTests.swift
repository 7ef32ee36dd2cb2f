import AvatarMedia
import Foundation
import Testing

/// Numbers a hostile or careless client may send: the receiver's arithmetic is total (no trap) and the
/// rules in docs/protocol.md ("Large ts and seq jumps") hold.
@Suite struct OpusPacketReceiverHostileTests {
    let packets: [[UInt8]]
    init() throws { packets = try TestMedia.tonePackets(seconds: 1) }

    @Test func tsWrapsAroundAt2To64() throws {
        var r = try OpusPacketReceiver()
        // 2^64 − 960 then 0: consecutive 20 ms packets across the wrap (used to trap on overflow).
        let a = r.receive(seq: 0, ts: UInt64.max - 959, payload: packets[0])
        let b = r.receive(seq: 1, ts: 0, payload: packets[1])
        let c = r.receive(seq: 2, ts: 960, payload: packets[2])
        #expect(a.packet != nil && b.packet != nil && c.packet != nil)
        #expect(b.silenceSamples == 0 && b.position == 320 && c.position == 640)
        #expect(r.discontinuities == 0 && r.packetsLost == 0)
    }

    @Test func maximalTsThenZeroDoesNotTrap() throws {
        var r = try OpusPacketReceiver()
        _ = r.receive(seq: 0, ts: UInt64.max, payload: packets[0])
        let next = r.receive(seq: 1, ts: 0, payload: packets[1])
        // ts 0 is one sample after 2^64 − 1: it overlaps the first packet and is trimmed, not a crash.
        #expect(next.samples.count <= 320)
        #expect(r.position <= 640)
    }

    @Test func originsAtOrAbove2To63AreOrdinary() throws {
        for origin in [UInt64(1) << 63, (UInt64(1) << 63) + 12_345, UInt64.max - 20 * 960] {
            var r = try OpusPacketReceiver()
            var total = 0
            for i in 0..<50 {
                let res = r.receive(seq: UInt32(i), ts: origin &+ UInt64(i * 960), payload: packets[i])
                #expect(res.packet != nil, "origin \(origin) packet \(i)")
                total += res.samples.count
            }
            // 1 s sent, 1 s on the timeline (it used to collapse to one packet's 20 ms).
            #expect(total == 16000, "origin \(origin)")
            #expect(r.packetsLost == 0 && r.late == 0)
        }
    }

    @Test func seqJumpingBackByHalfTheSpaceIsNotCountedAsLoss() throws {
        var r = try OpusPacketReceiver()
        for i in 0..<5 { _ = r.receive(seq: UInt32(i), ts: UInt64(i * 960), payload: packets[i]) }
        // Back by 2^31 + a few: in serial arithmetic that reads as ~2^31 packets ahead.
        let jump = r.receive(seq: 4 &- (UInt32(1) << 31) &- 3, ts: 5 * 960, payload: packets[5])
        #expect(jump.lost == 0 && r.packetsLost == 0)
        #expect(jump.discontinuity && jump.packet != nil)
        // The counter continues from the new value.
        let after = r.receive(seq: 4 &- (UInt32(1) << 31) &- 2, ts: 6 * 960, payload: packets[6])
        #expect(after.packet != nil && after.lost == 0)
    }

    @Test func seqGapsUpToTheBurstLimitAreLosses() throws {
        var r = try OpusPacketReceiver(maxGapSeconds: 1)
        _ = r.receive(seq: 0, ts: 0, payload: packets[0])
        #expect(r.maxLostBurst == 400)
        let gap = r.receive(seq: 401, ts: 401 * 120, payload: packets[1])
        #expect(gap.lost == 400)
        let tooFar = r.receive(seq: 402 + 401, ts: 401 * 120 + 960, payload: packets[2])
        #expect(tooFar.lost == 0 && tooFar.discontinuity)
    }

    @Test func clockJumpingFarBackContinuesAtTheEnd() throws {
        var r = try OpusPacketReceiver(maxGapSeconds: 2)
        let t0: UInt64 = 48000 * 3600
        for i in 0..<5 { _ = r.receive(seq: UInt32(i), ts: t0 + UInt64(i * 960), payload: packets[i]) }
        // The sender's clock restarted at 0 (new seq): not late audio to drop, a discontinuity.
        let res = r.receive(seq: 5, ts: 0, payload: packets[5])
        #expect(res.discontinuity && res.packet != nil && res.position == 5 * 320)
        let next = r.receive(seq: 6, ts: 960, payload: packets[6])
        #expect(next.packet != nil && next.position == 6 * 320 && next.silenceSamples == 0)
        // A small step back is still an overlap (trimmed or late), not a discontinuity.
        let small = r.receive(seq: 7, ts: 960, payload: packets[7])
        #expect(!small.discontinuity && small.late)
    }

    @Test func forwardJumpsInsertAtMostTheMaximumGap() throws {
        var r = try OpusPacketReceiver(maxGapSeconds: 0.5)
        var total = 0
        for i in 0..<20 {
            // Each packet 60 s after the last: the amplification a hostile client would want.
            let res = r.receive(seq: UInt32(i), ts: UInt64(i) * 48000 * 60, payload: packets[i])
            total += res.samples.count
        }
        #expect(total == 20 * 320 + 19 * 8000)
        #expect(r.discontinuities == 19)
    }
}

import AvatarMedia
import Foundation
import Testing

@Suite struct OpusPacketReceiverTests {
    /// 20 ms packets of a 440 Hz tone at 48 kHz.
    func tonePackets(seconds: Double, frequency: Double = 440) throws -> [[UInt8]] {
        let pcm = (0..<Int(seconds * 48000)).map { Float(0.5 * sin(2 * Double.pi * frequency * Double($0) / 48000)) }
        return try OpusEncoder(sampleRate: 48000, bitrate: 48000, voice: false).encodePackets(pcm)
    }

    /// Dominant frequency by counting zero crossings.
    func frequency(_ x: ArraySlice<Float>, rate: Double) -> Double {
        var crossings = 0
        for (a, b) in zip(x, x.dropFirst()) where (a < 0) != (b < 0) { crossings += 1 }
        return Double(crossings) / 2 / (Double(x.count) / rate)
    }

    @Test func decodesAt16kHzDirectly() throws {
        var r = try OpusPacketReceiver(outputSampleRate: 16000)
        var out: [Float] = []
        for (i, p) in try tonePackets(seconds: 0.5).enumerated() {
            let res = r.receive(seq: UInt32(i), ts: UInt64(i * 960), payload: p)
            #expect(res.packet?.duration48k == 960)
            out += res.samples
        }
        #expect(out.count == 8000)
        #expect(abs(frequency(out[2000...], rate: 16000) - 440) < 10)
    }

    @Test func concealsSeqGapsAndKeepsTheTimelineSampleExact() throws {
        var r = try OpusPacketReceiver()
        var total = 0
        var lost = 0
        for (i, p) in try tonePackets(seconds: 1).enumerated() where !(10...12).contains(i) {
            let res = r.receive(seq: UInt32(i), ts: UInt64(i * 960), payload: p)
            total += res.samples.count
            lost += res.lost
        }
        #expect(lost == 3)
        #expect(total == 16000)
        #expect(r.packetsLost == 3)
    }

    @Test func tsGapWithConsecutiveSeqIsSilence() throws {
        var r = try OpusPacketReceiver()
        let packets = try tonePackets(seconds: 0.1)
        _ = r.receive(seq: 0, ts: 0, payload: packets[0])
        // Next seq, but 0.5 s later: 0.5 s of silence then the packet.
        let res = r.receive(seq: 1, ts: 960 + 24000, payload: packets[1])
        #expect(res.lost == 0)
        #expect(res.samples.count == 8000 + 320)
        #expect(res.samples[0..<8000].allSatisfy { $0 == 0 })
    }

    @Test func duplicatesAndLatePacketsAreDropped() throws {
        var r = try OpusPacketReceiver()
        let p = try tonePackets(seconds: 0.2)
        _ = r.receive(seq: 0, ts: 0, payload: p[0])
        _ = r.receive(seq: 1, ts: 960, payload: p[1])
        let dup = r.receive(seq: 1, ts: 960, payload: p[1])
        #expect(dup.duplicate && dup.packet == nil && dup.samples.isEmpty)
        // seq 3 arrives before 2: 2 is concealed, then dropped as late when it comes.
        let ahead = r.receive(seq: 3, ts: 2880, payload: p[3])
        #expect(ahead.lost == 1)
        let late = r.receive(seq: 2, ts: 1920, payload: p[2])
        #expect(late.late && late.packet == nil)
        #expect(r.packetsDropped == 2)
    }

    @Test func sequenceNumbersWrapAround() throws {
        var r = try OpusPacketReceiver()
        let p = try tonePackets(seconds: 0.1)
        var lost = 0
        for i in 0..<5 {
            let res = r.receive(seq: UInt32.max - 2 &+ UInt32(i), ts: UInt64(i * 960), payload: p[i])
            lost += res.lost
            #expect(res.packet != nil)
        }
        #expect(lost == 0)
    }

    @Test func undecodablePacketsCountAsLostAndTheStreamContinues() throws {
        var r = try OpusPacketReceiver()
        let p = try tonePackets(seconds: 0.1)
        _ = r.receive(seq: 0, ts: 0, payload: p[0])
        let bad = r.receive(seq: 1, ts: 960, payload: [0xFF, 0xFF, 0xFF])
        #expect(bad.decodeErrors == 1 && bad.lost == 1 && bad.packet == nil)
        #expect(bad.samples.count == 320)
        let good = r.receive(seq: 2, ts: 1920, payload: p[2])
        #expect(good.packet != nil && good.lost == 0 && good.samples.count == 320)
        #expect(r.decodeErrors == 1)
    }
}

@Suite struct OpusPacketReceiverTimelineTests {
    let packets: [[UInt8]]
    init() throws { packets = try TestMedia.tonePackets(seconds: 1) }

    @Test func firstTimestampIsTheOriginAndPositionsFollowTs() throws {
        var r = try OpusPacketReceiver()
        let t0: UInt64 = 123_457 // neither 0 nor a multiple of 3
        var emitted = 0
        for i in 0..<10 where i != 4 {
            let res = r.receive(seq: 1000 + UInt32(i), ts: t0 + UInt64(i * 960), payload: packets[i])
            #expect(res.position == emitted)
            emitted += res.samples.count
            if let p = res.packet {
                // Sample-exact: the packet's first sample sits at (ts − origin) / 3.
                #expect(p.position == Int(p.ts - t0) / 3)
                #expect(res.samples.count - (res.concealedSamples + res.silenceSamples) == 320)
            }
        }
        #expect(r.origin == t0)
        #expect(r.position == emitted && emitted == 3200)
        #expect(r.concealedSamples == 320 && r.packetsLost == 1)
    }

    @Test func lossIsConcealedWithSignalNotSilence() throws {
        var r = try OpusPacketReceiver()
        for i in 0..<10 { _ = r.receive(seq: UInt32(i), ts: UInt64(i * 960), payload: packets[i]) }
        let res = r.receive(seq: 12, ts: 12 * 960, payload: packets[12])
        #expect(res.lost == 2 && res.concealedSamples == 640 && res.silenceSamples == 0)
        #expect(TestMedia.rms(res.samples[0..<160]) > 0.1)
    }

    @Test func duplicatesAndLatePacketsAreToldApart() throws {
        var r = try OpusPacketReceiver()
        for i in [0, 1, 2, 4, 5] { _ = r.receive(seq: UInt32(i), ts: UInt64(i * 960), payload: packets[i]) }
        #expect(r.receive(seq: 1, ts: 960, payload: packets[1]).duplicate)   // received before
        #expect(r.receive(seq: 5, ts: 4800, payload: packets[5]).duplicate)  // the newest, again
        #expect(r.receive(seq: 3, ts: 2880, payload: packets[3]).late)       // concealed already
        let ancient = r.receive(seq: UInt32.max - 100, ts: 0, payload: packets[0])
        #expect(ancient.late && ancient.samples.isEmpty && ancient.packet == nil)
        #expect(r.duplicates == 2 && r.late == 2 && r.packetsDropped == 4)
        #expect(r.position == 6 * 320)
    }

    @Test func wrapAroundWithALossAcrossIt() throws {
        var r = try OpusPacketReceiver()
        var total = 0
        for i in 0..<8 where i != 3 {
            let seq = UInt32.max - 3 &+ UInt32(i) // max-3, max-2, max-1, [max lost], 0, 1, …
            let res = r.receive(seq: seq, ts: UInt64(i * 960), payload: packets[i])
            #expect(!res.dropped)
            total += res.samples.count
        }
        #expect(r.packetsLost == 1 && total == 8 * 320)
        #expect(r.receive(seq: UInt32.max - 1, ts: 2 * 960, payload: packets[2]).duplicate)
        #expect(r.receive(seq: UInt32.max, ts: 3 * 960, payload: packets[3]).late)
    }

    @Test func hugeTimestampJumpIsBoundedAndRebased() throws {
        var r = try OpusPacketReceiver(maxGapSeconds: 2)
        _ = r.receive(seq: 0, ts: 0, payload: packets[0])
        let res = r.receive(seq: 1, ts: 48000 * 3600, payload: packets[1])
        #expect(res.discontinuity)
        #expect(res.silenceSamples == 32000 && res.samples.count == 32000 + 320)
        // Later packets keep their mapping from the new origin.
        let next = r.receive(seq: 2, ts: 48000 * 3600 + 960, payload: packets[2])
        #expect(next.samples.count == 320 && next.silenceSamples == 0)
        #expect(r.discontinuities == 1)
    }

    @Test func resetReanchorsAfterAnInterrupt() throws {
        var r = try OpusPacketReceiver()
        for i in 0..<5 { _ = r.receive(seq: UInt32(i), ts: UInt64(i * 960), payload: packets[i]) }
        r.reset()
        // The client paused 3 s around the interrupt: no silence for that, the timeline goes on.
        let res = r.receive(seq: 5, ts: 5 * 960 + 144_000, payload: packets[5])
        #expect(res.silenceSamples == 0 && res.samples.count == 320 && res.position == 5 * 320)
        // Packets from before the interrupt are still recognised.
        #expect(r.receive(seq: 2, ts: 1920, payload: packets[2]).duplicate)
    }

    @Test func overlappingTimestampIsTrimmedToKeepPositions() throws {
        var r = try OpusPacketReceiver()
        _ = r.receive(seq: 0, ts: 0, payload: packets[0])
        // The client's ts went back by 10 ms: only the new half is appended.
        let res = r.receive(seq: 1, ts: 480, payload: packets[1])
        #expect(res.samples.count == 160 && r.position == 480)
        let whollyOld = r.receive(seq: 2, ts: 0, payload: packets[2])
        #expect(whollyOld.late && whollyOld.samples.isEmpty)
    }

    @Test func emptyOrGarbagePayloadsAreDecodeErrorsAndTheTimelineMoves() throws {
        var r = try OpusPacketReceiver()
        _ = r.receive(seq: 0, ts: 0, payload: packets[0])
        let empty = r.receive(seq: 1, ts: 960, payload: [])
        #expect(empty.decodeErrors == 1 && empty.samples.count == 320)
        // A valid 20 ms TOC followed by noise: libopus may or may not accept it, the timeline gets 20 ms either way.
        let noise = r.receive(seq: 2, ts: 1920, payload: [0xF8] + (0..<200).map { UInt8(truncatingIfNeeded: $0 &* 37) })
        #expect(noise.samples.count == 320)
        let good = r.receive(seq: 3, ts: 2880, payload: packets[3])
        #expect(good.packet != nil && good.position == 3 * 320)
    }
}

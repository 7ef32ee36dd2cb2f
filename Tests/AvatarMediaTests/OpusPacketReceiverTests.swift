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

import AvatarMedia
import Foundation
import Testing

@Suite struct OpusCodecTests {
    @Test(arguments: [220.0, 440.0, 1000.0])
    func toneRoundTripsAt16kHz(frequency: Double) throws {
        let decoder = try OpusDecoder(sampleRate: 16000)
        var out: [Float] = []
        for p in try TestMedia.tonePackets(seconds: 0.5, frequency: frequency) {
            #expect(OpusDecoder.samples48k(p) == 960)
            out += try decoder.decode(p)
        }
        #expect(out.count == 8000)
        let steady = out[1600...]
        #expect(abs(TestMedia.frequency(steady, rate: 16000) - frequency) < frequency * 0.02)
        // A 0.5-amplitude sine has RMS 0.354; the codec keeps the energy within a few dB.
        #expect(abs(TestMedia.rms(steady) - 0.354) < 0.08, "rms \(TestMedia.rms(steady))")
    }

    @Test func concealmentContinuesTheSignalAndHasTheRequestedLength() throws {
        let decoder = try OpusDecoder(sampleRate: 16000)
        let packets = try TestMedia.tonePackets(seconds: 0.4)
        for p in packets[0..<10] { _ = try decoder.decode(p) }
        let concealed = decoder.conceal(samples: 320)
        #expect(concealed.count == 320)
        // PLC extrapolates the tone rather than going silent.
        #expect(TestMedia.rms(concealed[0..<160]) > 0.1, "rms \(TestMedia.rms(concealed[0..<160]))")
        // Odd lengths: libopus works in 2.5 ms steps, the remainder is silence.
        #expect(decoder.conceal(samples: 333).count == 333)
    }

    @Test func fecRebuildsALostPacketCloserThanPlainConcealment() throws {
        // A chirp is hard to extrapolate, so FEC (a low-bitrate copy of the lost frame) must do better.
        let pcm = (0..<48000).map { i -> Float in
            let t = Double(i) / 48000
            return Float(0.5 * sin(2 * Double.pi * (200 * t + 400 * t * t)))
        }
        let packets = try OpusEncoder(sampleRate: 48000, bitrate: 32000, voice: true, inbandFEC: true, expectedLossPercent: 25)
            .encodePackets(pcm)
        let reference = try OpusDecoder(sampleRate: 16000)
        var clean: [[Float]] = []
        for p in packets { clean.append(try reference.decode(p)) }
        func error(useFEC: Bool) throws -> Double {
            let d = try OpusDecoder(sampleRate: 16000)
            var total = 0.0
            for lost in stride(from: 10, to: 45, by: 5) {
                d.reset()
                for p in packets[(lost - 5)..<lost] { _ = try d.decode(p) }
                let rebuilt = d.conceal(samples: 320, next: useFEC ? packets[lost + 1] : nil)
                total += zip(rebuilt, clean[lost]).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
            }
            return total
        }
        let withFEC = try error(useFEC: true)
        let withoutFEC = try error(useFEC: false)
        #expect(withFEC < withoutFEC * 0.7, "FEC error \(withFEC), PLC error \(withoutFEC)")
    }

    @Test func resetForgetsTheState() throws {
        let decoder = try OpusDecoder(sampleRate: 16000)
        for p in try TestMedia.tonePackets(seconds: 0.2) { _ = try decoder.decode(p) }
        decoder.reset()
        // Right after a reset there is nothing to extrapolate from.
        #expect(TestMedia.rms(decoder.conceal(samples: 320)[...]) < 0.01)
    }

    @Test func rejectsGarbageAndBadRates() throws {
        let decoder = try OpusDecoder(sampleRate: 16000)
        #expect(throws: OpusError.self) { try decoder.decode([]) }
        #expect(throws: OpusError.self) { try decoder.decode([0xFF, 0xFF, 0xFF]) }
        #expect(OpusDecoder.samples48k([]) == nil)
        #expect(OpusDecoder.samples48k([UInt8(3 << 3 | 3), 3]) == nil) // 3 × 60 ms > 120 ms
        #expect(throws: OpusError.self) { try OpusDecoder(sampleRate: 44100) }
        #expect(throws: OpusError.self) { try OpusEncoder().encode([Float](repeating: 0, count: 123)) }
    }

    @Test func encoderReportsItsLookahead() throws {
        // libopus at 48 kHz: 2.5 ms of analysis plus 4 ms of delay compensation.
        #expect(try OpusEncoder(voice: false).lookahead == 312)
    }
}

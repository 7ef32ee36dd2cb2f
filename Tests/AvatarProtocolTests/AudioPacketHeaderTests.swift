import AvatarProtocol
import Testing

@Suite struct AudioPacketHeaderTests {
    @Test func roundTripsBigEndianFields() throws {
        let header = AudioPacketHeader(seq: 0xDEAD_BEEF, ts: 0x0102_0304_0506_0708)
        let frame = header.frame(payload: [0xF8, 1, 2])
        #expect(frame.count == 19)
        #expect(Array(frame[0..<16]) == [0x41, 0x01, 0, 0, 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4, 5, 6, 7, 8])
        let (parsed, payload) = try AudioPacketHeader.parse(frame)
        #expect(parsed == header)
        #expect(payload == [0xF8, 1, 2])
    }

    @Test(arguments: [
        ([0x42, 0x01, 0, 0] + [UInt8](repeating: 0, count: 12) + [0xF8], "bad magic"),
        ([0x41, 0x02, 0, 0] + [UInt8](repeating: 0, count: 12) + [0xF8], "version"),
        ([0x41, 0x01, 0, 1] + [UInt8](repeating: 0, count: 12) + [0xF8], "flags"),
        ([0x41, 0x01, 0, 0, 1, 2], "shorter"),
        ([0x41, 0x01, 0, 0] + [UInt8](repeating: 0, count: 12), "no Opus packet"),
    ])
    func rejectsMalformedHeaders(frame: [UInt8], fragment: String) {
        #expect {
            try AudioPacketHeader.parse(frame)
        } throws: { error in
            let v = error as! ProtocolViolation
            return v.code == .protocol && v.message.contains(fragment)
        }
    }

    /// Every oversized case must throw `too_big` (the old test accepted a successful parse too).
    @Test(arguments: [
        (4096 - 16 + 1, "exceeds 4096"),  // frame of 4097 bytes
        (1276, "exceeds 1275"),           // frame fits, Opus packet does not
    ])
    func oversizedFramesAreTooBig(payloadBytes: Int, fragment: String) {
        let frame = AudioPacketHeader(seq: 1, ts: 0).frame(payload: [UInt8](repeating: 0xF8, count: payloadBytes))
        #expect {
            try AudioPacketHeader.parse(frame)
        } throws: { error in
            let v = error as! ProtocolViolation
            return v.code == .tooBig && v.message.contains(fragment)
        }
    }

    @Test func largestValidFrameParses() throws {
        let frame = AudioPacketHeader(seq: 1, ts: 0).frame(payload: [UInt8](repeating: 0xF8, count: 1275))
        #expect(try AudioPacketHeader.parse(frame).1.count == 1275)
    }

    @Test func opusTOCDurations() {
        // config 1 (SILK NB 20 ms), code 0 → 960; config 31 (CELT FB 20 ms) code 1 → 2 frames.
        #expect(OpusTOC.samples48k([0x08]) == 960)
        #expect(OpusTOC.samples48k([UInt8(31 << 3 | 1)]) == 1920)
        #expect(OpusTOC.samples48k([UInt8(16 << 3 | 3), 3]) == 360)
        #expect(OpusTOC.samples48k([UInt8(3 << 3 | 3), 3]) == nil) // 3×60 ms > 120 ms
        #expect(OpusTOC.samples48k([]) == nil)
    }
}

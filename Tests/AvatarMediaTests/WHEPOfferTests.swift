import AvatarMedia
import Testing

/// What a WHEP offer must hold before webrtcbin sees it, and which payload types avatard answers with.
struct WHEPOfferTests {
    /// An offer shaped like Chromium's: BUNDLE, one audio and one video m-line, several H.264 profiles.
    static func offer(video: String = "96 97 102 103 104 106 108", audioDirection: String = "recvonly",
                      videoDirection: String = "recvonly", dropMid: Bool = false, extraMedia: String = "") -> String {
        var lines = [
            "v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1",
            "a=extmap-allow-mixed", "a=msid-semantic: WMS",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9", "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0",
            "a=ice-ufrag:abcd", "a=ice-pwd:abcdefghijklmnopqrstuvwx", "a=ice-options:trickle",
            "a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
            "a=setup:actpass", "a=mid:0", "a=\(audioDirection)", "a=rtcp-mux",
            "a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10;useinbandfec=1", "a=rtpmap:63 red/48000/2",
            "a=rtpmap:9 G722/8000",
            "m=video 9 UDP/TLS/RTP/SAVPF \(video)", "c=IN IP4 0.0.0.0",
            "a=ice-ufrag:abcd", "a=ice-pwd:abcdefghijklmnopqrstuvwx",
            "a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
            "a=setup:actpass", "a=mid:1", "a=\(videoDirection)", "a=rtcp-mux", "a=rtcp-rsize",
            "a=rtpmap:96 VP8/90000", "a=rtcp-fb:96 nack pli", "a=rtpmap:97 rtx/90000", "a=fmtp:97 apt=96",
            "a=rtpmap:102 H264/90000", "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
            "a=rtpmap:103 rtx/90000", "a=fmtp:103 apt=102",
            "a=rtpmap:104 H264/90000", "a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f",
            "a=rtpmap:106 H264/90000", "a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
            "a=rtpmap:108 H264/90000", "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640032",
            "a=rtpmap:98 VP9/90000", "a=rtpmap:45 AV1/90000",
        ]
        if dropMid { lines.removeAll { $0.hasPrefix("a=mid:") } }
        return lines.joined(separator: "\r\n") + "\r\n" + extraMedia
    }

    @Test func choosesConstrainedBaselineWithPacketizationModeOneAndOpus() throws {
        let offer = try WHEPOffer.parse(Self.offer())
        #expect(offer.media.map(\.kind) == ["audio", "video"])
        let h264 = try offer.select(.h264)
        #expect(h264.videoPayloadType == 106, "42e01f with packetization-mode=1, not 104 (mode 0) or 102 (baseline)")
        #expect(h264.audioPayloadType == 111)
        #expect(try offer.select(.vp8).videoPayloadType == 96)
    }

    @Test func fallsBackToOtherH264Profiles() throws {
        let offer = try WHEPOffer.parse(Self.offer(video: "102 104 108"))
        #expect(try offer.select(.h264).videoPayloadType == 102)
        let highOnly = try WHEPOffer.parse(Self.offer(video: "104 108"))
        #expect(try highOnly.select(.h264).videoPayloadType == 108)
    }

    @Test func offersWithoutAUsableCodecAreNotAcceptable() throws {
        for (text, codec, expected) in [
            (Self.offer(video: "98 45"), WebRTCVideoCodec.h264, "VP9, AV1"),
            (Self.offer(video: "104"), .h264, "packetization-mode=1"),
            (Self.offer(video: "102 106"), .vp8, "VP8"),
            (Self.offer(videoDirection: "sendonly"), .h264, "does not receive"),
        ] {
            let offer = try WHEPOffer.parse(text)
            #expect {
                try offer.select(codec)
            } throws: { error in
                guard case .noUsableCodec(let m) = error as? WHEPOfferError else { return false }
                return m.contains(expected)
            }
        }
        let noOpus = Self.offer().replacingOccurrences(of: "a=rtpmap:111 opus/48000/2", with: "a=rtpmap:111 PCMU/8000")
        #expect(throws: WHEPOfferError.self) { try WHEPOffer.parse(noOpus).select(.h264) }
        // A viewer that does not want audio gets video only.
        let videoOnly = try WHEPOffer.parse(Self.offer(audioDirection: "inactive")).select(.h264)
        #expect(videoOnly.audioPayloadType == nil)
    }

    @Test(arguments: [
        ("", "v=0"),
        ("hello, I am not an offer", "v=0"),
        ("{\"type\":\"offer\",\"sdp\":\"v=0\"}", "v=0"),
        ("v=0\r\nthis is not sdp\r\n", "not an SDP line"),
        ("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n", "o= and s="),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n", "no m-lines"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nm=video x UDP/TLS/RTP/SAVPF 96\r\n", "malformed"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\na=x:\u{1}\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n", "control characters"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nm=video 9 RTP/AVP 96\r\na=mid:0\r\n", "SAVPF"),
    ])
    func malformedOffersAreRefused(text: String, expected: String) {
        #expect {
            try WHEPOffer.parse(text)
        } throws: { error in
            guard case .malformed(let m) = error as? WHEPOfferError else { return false }
            return m.contains(expected)
        }
    }

    @Test func whatWebRTCBinRequiresIsChecked() {
        // webrtcbin asserts on an m-line without a=mid (the process would abort): refused here.
        #expect(throws: WHEPOfferError.malformed("m-line 0 has no a=mid")) { try WHEPOffer.parse(Self.offer(dropMid: true)) }
        let noFingerprint = Self.offer().split(separator: "\r\n").filter { !$0.hasPrefix("a=fingerprint") }.joined(separator: "\r\n")
        #expect(throws: WHEPOfferError.self) { try WHEPOffer.parse(noFingerprint) }
        let noICE = Self.offer().split(separator: "\r\n").filter { !$0.hasPrefix("a=ice-") }.joined(separator: "\r\n")
        #expect(throws: WHEPOfferError.self) { try WHEPOffer.parse(noICE) }
        let dataChannel = Self.offer(extraMedia: "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:2\r\n")
        #expect(throws: WHEPOfferError.self) { try WHEPOffer.parse(dataChannel) }
        let twoVideos = Self.offer(extraMedia: "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=rtpmap:96 VP8/90000\r\n")
        #expect(throws: WHEPOfferError.self) { try WHEPOffer.parse(twoVideos) }
        let huge = "v=0\r\n" + String(repeating: "a=x\r\n", count: 20000)
        #expect(throws: WHEPOfferError.self) { try WHEPOffer.parse(huge) }
    }

    @Test func randomBytesNeverCrashTheParser() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("v=0\r\nmoasc:/ 0123456789UDP/TLS/RTP/SAVPF H264 opus rtpmap fmtp mid=;".utf8)
        for _ in 0..<2000 {
            let length = Int.random(in: 0..<400, using: &generator)
            let bytes = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            let text = String(decoding: bytes, as: UTF8.self)
            if let offer = try? WHEPOffer.parse(text) { _ = try? offer.select(.h264) }
        }
    }
}

import AvatarFormats
import AvatarMedia
import Testing

/// The WebRTC presets as output pipelines: their tees make a fanout, the codec is read from the stream, bad
/// offers are refused without touching the running pipeline, and the pipeline still finishes cleanly.
/// (Viewers that really connect are tested end to end in tests/web/test_whep.py.)
@Suite(.serialized)
struct WebRTCOutputTests {
    @Test(arguments: [("webrtc", WebRTCVideoCodec.h264), ("webrtc-vp8", WebRTCVideoCodec.vp8)])
    func presetOffersViewersAndRefusesBadOffers(name: String, codec: WebRTCVideoCodec) throws {
        let p = try TestMedia.preset(name, values: ["bitrate_kbps": "500", "bitrate_bps": "500000", "keyframe_interval": "50"])
        let format = VideoFormat(width: 64, height: 64, fps: 25)
        let output = try OutputPipeline(description: p.pipeline, mode: p.mode, video: format, name: "webrtc-test", maxViewers: 2)
        let fanout = try #require(output.webrtc)
        #expect(fanout.maxViewers == 2)
        #expect(fanout.videoCodec == codec, "read from upstream before the first frame")
        try output.start()
        let packets = try TestMedia.tonePackets(seconds: 0.4)
        for i in 0..<10 {
            try output.pushVideo(TestMedia.frame(format, level: UInt8(20 * i)), pts: UInt64(i) * 40_000_000, duration: 40_000_000)
            try output.pushAudio(packets[2 * i], pts: UInt64(2 * i) * 20_000_000, duration: 20_000_000)
            try output.pushAudio(packets[2 * i + 1], pts: UInt64(2 * i + 1) * 20_000_000, duration: 20_000_000)
        }
        #expect(fanout.videoCodec == codec)

        #expect(throws: WebRTCFanout.AttachError.offer(.malformed("not an SDP offer (it must start with v=0)"))) {
            try fanout.attach(offer: "hello")
        }
        let otherCodecs = WHEPOfferTests.offer(video: codec == .h264 ? "96 98" : "102 106")
        #expect {
            try fanout.attach(offer: otherCodecs)
        } throws: { error in
            guard case .offer(.noUsableCodec) = error as? WebRTCFanout.AttachError else { return false }
            return true
        }
        #expect(fanout.viewerCount == 0)
        #expect(output.failure == nil, "bad offers leave the pipeline alone")
        try output.finish(timeout: .seconds(5))
        #expect(throws: WebRTCFanout.AttachError.closed) { try fanout.attach(offer: WHEPOfferTests.offer()) }
    }

    @Test func otherPresetsHaveNoViewers() throws {
        let p = try TestMedia.preset("rtp-h264", values: ["host": "127.0.0.1", "video_port": "9", "video_rtcp_port": "9",
                                                          "audio_port": "9", "audio_rtcp_port": "9", "bitrate_kbps": "500",
                                                          "keyframe_interval": "50"])
        let output = try OutputPipeline(description: p.pipeline, mode: p.mode, video: VideoFormat(width: 64, height: 64, fps: 25),
                                        name: "rtp-test")
        #expect(output.webrtc == nil)
    }
}

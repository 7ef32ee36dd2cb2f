@testable import AvatarMedia
public import AvatarFormats
import Foundation
import Testing

/// Sends with the RTP presets to loopback ports and receives with independent GStreamer pipelines
/// (udpsrc with caps → jitter buffer → depayloader → decoder).
@Suite(.serialized) struct OutputRTPTests {
    static let format = VideoFormat(width: 64, height: 64, fps: 25)

    @Test(arguments: [
        ("rtp-h264", "encoding-name=(string)H264,payload=(int)96", "rtph264depay ! h264parse ! openh264dec"),
        ("rtp-vp8", "encoding-name=(string)VP8,payload=(int)97", "rtpvp8depay ! vp8dec"),
    ])
    func decodedFramesAndAudioArrive(preset: String, encoding: String, decode: String) throws {
        let base = TestMedia.freePort()
        let ports = ["video_port": base, "video_rtcp_port": base + 1, "audio_port": base + 2, "audio_rtcp_port": base + 3]
        let videoReceiver = try AppSinkPipeline("""
            udpsrc port=\(base) caps="application/x-rtp,media=(string)video,clock-rate=(int)90000,\(encoding)"
            ! rtpjitterbuffer latency=200 ! \(decode) ! videoconvert ! video/x-raw,format=GRAY8 ! appsink name=v sync=false
            """)
        let audioReceiver = try AppSinkPipeline("""
            udpsrc port=\(base + 2) caps="application/x-rtp,media=(string)audio,clock-rate=(int)48000,encoding-name=(string)OPUS,payload=(int)111"
            ! rtpjitterbuffer latency=200 ! rtpopusdepay ! opusdec ! audioconvert ! audioresample
            ! audio/x-raw,format=F32LE,channels=1,rate=16000 ! appsink name=a sync=false
            """)
        var values = ["host": "\"127.0.0.1\"", "bitrate_kbps": "500", "bitrate_bps": "500000", "keyframe_interval": "25"]
        for (k, v) in ports { values[k] = String(v) }
        let p = try TestMedia.preset(preset, values: values)
        #expect(p.mode == .live)
        let output = try OutputPipeline(description: p.pipeline, mode: .live, video: Self.format, name: preset)
        try output.start()
        // Live outputs are paced by the caller: one frame (and its two audio packets) every 40 ms.
        let packets = try TestMedia.tonePackets(seconds: 1.6)
        let clock = ContinuousClock()
        let start = clock.now
        for k in 0..<40 {
            try output.pushVideo(I420Frame(width: 64, height: 64, y: 200), pts: UInt64(k) * 40_000_000, duration: 40_000_000)
            for i in (2 * k)..<(2 * k + 2) {
                try output.pushAudio(packets[i], pts: UInt64(i) * 20_000_000, duration: 20_000_000)
            }
            let due = start + .milliseconds(40 * (k + 1))
            let left = due - clock.now
            if left > .zero { Thread.sleep(forTimeInterval: Double(left.components.attoseconds) * 1e-18 + Double(left.components.seconds)) }
        }
        let frames = try videoReceiver.pull("v", until: { $0.count >= 20 }, timeout: 5)
        let audio = try audioReceiver.pull("a", until: { $0.reduce(0) { $0 + $1.bytes.count / 4 } >= 16000 }, timeout: 5)
        try output.finish(timeout: .seconds(5))

        #expect(frames.count >= 20, "\(frames.count) frames received")
        for f in frames {
            #expect(f.bytes.count == 64 * 64)
            let mean = Double(f.bytes.reduce(0) { $0 + Int($1) }) / Double(f.bytes.count)
            #expect(abs(mean - 200) < 8, "luma \(mean)")
        }
        var pcm: [Float] = []
        for b in audio { b.bytes.withUnsafeBytes { pcm.append(contentsOf: $0.bindMemory(to: Float.self)) } }
        #expect(pcm.count >= 16000, "\(pcm.count) audio samples received")
        if pcm.count >= 16000 {
            #expect(abs(TestMedia.frequency(pcm[4000..<16000], rate: 16000) - 440) < 10)
        }
        #expect(output.stats.videoFramesPushed == 40)
    }
}

import AvatarMedia
import Foundation
import Testing

@Suite struct OutputFileTests {
    static let format = VideoFormat(width: 64, height: 64, fps: 25)
    static let frameNanos: UInt64 = 40_000_000

    /// Pushes `seconds` of frames (luma ramps with the frame index) and the matching Opus tone packets.
    static func feed(_ output: OutputPipeline, seconds: Double, offset: UInt64 = 0) throws {
        let packets = try TestMedia.tonePackets(seconds: seconds)
        let frames = Int(seconds * 25)
        for k in 0..<frames {
            let level = UInt8(40 + (k * 4) % 180)
            try output.pushVideo(TestMedia.frame(format, level: level), pts: offset + UInt64(k) * frameNanos, duration: frameNanos)
            // Audio of this frame's span: two 20 ms packets.
            for p in (2 * k)..<min(2 * k + 2, packets.count) {
                try output.pushAudio(packets[p], pts: offset + UInt64(p) * 20_000_000, duration: 20_000_000)
            }
        }
    }

    static func make(_ preset: String, location: String, extra: [String: String] = [:]) throws -> OutputPipeline {
        var values = ["location": "\"\(location)\"", "bitrate_kbps": "300", "keyframe_interval": "25", "speed": "ultrafast"]
        for (k, v) in extra { values[k] = v }
        let p = try TestMedia.preset(preset, values: values)
        return try OutputPipeline(description: p.pipeline, mode: p.mode, video: format, name: "test-\(preset)")
    }

    @Test(arguments: ["file-mp4", "file-mkv"])
    func writesAFileThatDecodesWithSyncedStreams(preset: String) throws {
        let dir = try TestMedia.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("out.\(preset == "file-mp4" ? "mp4" : "mkv")").path
        let output = try Self.make(preset, location: path)
        try output.start()
        try Self.feed(output, seconds: 2)
        #expect(output.stats.videoFramesPushed == 50)
        #expect(output.stats.audioPacketsPushed == 100)
        try output.finish()

        let probe = try MediaProbe(path: path)
        #expect(probe.videoStream?.mediaType == "video/x-h264")
        #expect(probe.audioStream?.mediaType == "audio/x-opus")
        #expect(probe.frames.count == 50)
        #expect(probe.frames.first?.width == 64 && probe.frames.first?.height == 64)
        #expect(abs(probe.videoDuration - 2) <= 0.04, "video \(probe.videoDuration) s")
        #expect(abs(probe.audioDuration - 2) <= 0.04, "audio \(probe.audioDuration) s")
        if let d = probe.containerDuration { #expect(abs(Double(d) / 1e9 - 2) <= 0.04, "container \(d)") }
        let offset = try #require(probe.avStartOffset)
        #expect(abs(offset) <= 0.04, "A/V start offset \(offset) s")
        // The audio is the tone that went in, the frames are the levels that went in.
        #expect(abs(TestMedia.frequency(probe.audio[4000..<28000], rate: 16000) - 440) < 8)
        for (k, f) in probe.frames.enumerated() {
            let expected = Double(40 + (k * 4) % 180)
            let mean = Double(f.luma.reduce(0) { $0 + Int($1) }) / Double(f.luma.count)
            #expect(abs(mean - expected) < 6, "frame \(k): luma \(mean), expected \(expected)")
        }
    }
}

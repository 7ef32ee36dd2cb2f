public import AvatarFormats
import AvatarMedia
import Foundation
import Testing

@Suite struct AudioFileReaderTests {
    /// A 16-bit PCM WAV file (written here so the test needs no fixtures).
    static func writeWAV(_ url: URL, samples: [Float], rate: Int, channels: Int) throws {
        var data = Data()
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { data.append(contentsOf: $0) } }
        func u16(_ v: Int) { withUnsafeBytes(of: UInt16(v).littleEndian) { data.append(contentsOf: $0) } }
        let bytes = samples.count * channels * 2
        data.append(contentsOf: Array("RIFF".utf8)); u32(36 + bytes); data.append(contentsOf: Array("WAVE".utf8))
        data.append(contentsOf: Array("fmt ".utf8)); u32(16); u16(1); u16(channels); u32(rate); u32(rate * channels * 2)
        u16(channels * 2); u16(16)
        data.append(contentsOf: Array("data".utf8)); u32(bytes)
        for s in samples {
            let v = Int16(max(-1, min(1, s)) * 32767)
            for _ in 0..<channels { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        }
        try data.write(to: url)
    }

    @Test func decodesAnyRateAndLayoutTo16kHzMono() throws {
        let dir = try TestMedia.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("tone 44k stereo.wav")
        try Self.writeWAV(url, samples: TestMedia.tone(seconds: 1, frequency: 440, rate: 44100), rate: 44100, channels: 2)
        let pcm = try AudioFileReader.pcm(path: url.path)
        #expect(abs(pcm.count - 16000) <= 16)
        #expect(abs(TestMedia.frequency(pcm[2000..<14000], rate: 16000) - 440) < 5)
        #expect(abs(TestMedia.rms(pcm[2000..<14000]) - 0.354) < 0.03)
    }

    @Test func encodesTwentyMillisecondOpusPacketsThatDecodeToTheSameTone() throws {
        let dir = try TestMedia.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("tone.wav")
        try Self.writeWAV(url, samples: TestMedia.tone(seconds: 1, frequency: 330, rate: 16000), rate: 16000, channels: 1)
        let packets = try AudioFileReader.opusPackets(path: url.path)
        #expect((50...52).contains(packets.count), "\(packets.count) packets")
        #expect(packets.allSatisfy { $0.duration48k == 960 })
        let decoder = try OpusDecoder(sampleRate: 16000)
        var pcm: [Float] = []
        for p in packets { pcm += try decoder.decode(p.data) }
        #expect(abs(TestMedia.frequency(pcm[2000..<14000], rate: 16000) - 330) < 5)
    }

    @Test func clearErrorsForMissingDirectoriesAndUndecodableFiles() throws {
        #expect(throws: MediaError.missingFile("/no/such/file.wav")) { try AudioFileReader.pcm(path: "/no/such/file.wav") }
        let dir = try TestMedia.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try AudioFileReader.opusPackets(path: dir.path)
            Issue.record("read a directory")
        } catch {
            #expect(error.description.contains("not a readable file"))
        }
        let junk = dir.appendingPathComponent("junk.wav")
        try Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 13) }).write(to: junk)
        do {
            _ = try AudioFileReader.pcm(path: junk.path)
            Issue.record("decoded junk")
        } catch {
            guard case .decode = error else { Issue.record("wrong error \(error)"); return }
        }
        #expect(throws: MediaError.self) { try MediaProbe(path: junk.path) }
    }

    @Test func videoOnlyFileHasNoAudio() throws {
        let dir = try TestMedia.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("silent.mkv").path
        let output = try OutputPipeline(description: "queue name=video ! x264enc ! h264parse ! matroskamux name=m ! filesink location=\"\(path)\"  queue name=audio ! fakesink",
                                        mode: .offline, video: VideoFormat(width: 64, height: 64, fps: 25), name: "video-only")
        try output.start()
        for k in 0..<5 { try output.pushVideo(I420Frame(width: 64, height: 64), pts: UInt64(k) * 40_000_000, duration: 40_000_000) }
        try output.finish()
        #expect(throws: MediaError.noAudio(path)) { try AudioFileReader.pcm(path: path) }
        let probe = try MediaProbe(path: path)
        #expect(probe.streams.count == 1 && probe.frames.count == 5 && probe.audio.isEmpty)
    }
}

@Suite struct I420FrameTests {
    @Test func rgbaConvertsWithBT601LimitedRange() {
        // Pure red, green, blue, white and black 2×2 blocks.
        let colors: [(r: UInt8, g: UInt8, b: UInt8, y: Int, u: Int, v: Int)] = [
            (255, 0, 0, 81, 90, 240), (0, 255, 0, 145, 54, 34), (0, 0, 255, 41, 240, 110),
            (255, 255, 255, 235, 128, 128), (0, 0, 0, 16, 128, 128),
        ]
        for c in colors {
            let rgba = [UInt8](repeating: 0, count: 16).enumerated().map { i, _ in [c.r, c.g, c.b, 255][i % 4] }
            let f = I420Frame(rgba: rgba, width: 2, height: 2)
            #expect(abs(Int(f.luma(x: 1, y: 1)) - c.y) <= 1, "Y of \(c)")
            #expect(abs(Int(f.data[4]) - c.u) <= 1, "U of \(c)")
            #expect(abs(Int(f.data[5]) - c.v) <= 1, "V of \(c)")
        }
    }

    @Test func layoutPlanes() {
        let f = I420Frame(width: 6, height: 4, y: 1, u: 2, v: 3)
        #expect(I420Frame.byteCount(width: 6, height: 4) == 24 + 6 + 6)
        #expect(f.data[0..<24].allSatisfy { $0 == 1 } && f.data[24..<30].allSatisfy { $0 == 2 } && f.data[30...].allSatisfy { $0 == 3 })
    }
}

public import AvatarFormats
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

@Suite struct OutputLifecycleTests {
    @Test func abortedFragmentedMP4KeepsItsCompleteFragmentsAndFinishAfterAbortDoesNothing() throws {
        let dir = try TestMedia.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("cut.mp4").path
        let output = try OutputFileTests.make("file-mp4", location: path)
        try output.start()
        try OutputFileTests.feed(output, seconds: 3)
        // Let the encoder and muxer write what they have (fragments close every second of media).
        var waited = 0
        while output.stats.videoQueuedBuffers > 0 && waited < 200 { Thread.sleep(forTimeInterval: 0.01); waited += 1 }
        Thread.sleep(forTimeInterval: 0.3)
        output.abort()
        try output.finish()
        #expect(throws: OutputError.finished) { try output.pushAudio([0x08, 0], pts: 0, duration: 20_000_000) }
        let probe = try MediaProbe(path: path)
        #expect(probe.frames.count >= 25, "\(probe.frames.count) frames survived")
        #expect(probe.audioDuration >= 0.9)
    }

    @Test func finishWithoutAnyDataReturns() throws {
        let dir = try TestMedia.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let output = try OutputFileTests.make("file-mkv", location: dir.appendingPathComponent("empty.mkv").path)
        try output.start()
        do {
            try output.finish(timeout: .seconds(5))
        } catch OutputError.finalizeTimeout {
            Issue.record("finish() waited for an EOS that never came")
        } catch {
            // A muxer may refuse an empty file; that is an error, not a hang.
        }
    }

    @Test func finishFromAnotherThreadWhilePushing() async throws {
        let dir = try TestMedia.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("vanished.mkv").path
        let output = try OutputFileTests.make("file-mkv", location: path)
        try output.start()
        try OutputFileTests.feed(output, seconds: 1)
        // The client vanished: the session's teardown finishes while its render thread may still push.
        let pusher = Thread {
            var k: UInt64 = 25
            while (try? output.pushVideo(I420Frame(width: 64, height: 64, y: 90), pts: k * 40_000_000, duration: 40_000_000)) != nil {
                k += 1
            }
        }
        pusher.start()
        try output.finish()
        let probe = try MediaProbe(path: path)
        #expect(probe.frames.count >= 25)
        #expect(probe.containerDuration != nil)
    }

    @Test func unwritableDirectoryFailsAtStartThroughTheErrorPath() async throws {
        let reported = ReportBox()
        let p = try TestMedia.preset("file-mp4", values: ["location": "\"/nonexistent-avatard/dir/out.mp4\"", "bitrate_kbps": "300",
                                                          "keyframe_interval": "25", "speed": "ultrafast"])
        let output = try OutputPipeline(description: p.pipeline, mode: p.mode, video: OutputFileTests.format, name: "unwritable",
                                        onFailure: { reported.set($0) })
        let startError: OutputError? = { () -> OutputError? in
            do throws(OutputError) { try output.start() } catch { return error }
            return nil
        }()
        guard case .stateChange(let message) = startError else {
            Issue.record("start() did not fail as expected: \(String(describing: startError))")
            return
        }
        #expect(message.contains("/nonexistent-avatard/dir/out.mp4"), "\(message)")
        #expect(reported.value?.message.contains("open") == true, "\(String(describing: reported.value))")
        var streamed: OutputFailure?
        for await f in output.failures { streamed = f }
        #expect(streamed == reported.value)
        #expect(throws: OutputError.self) { try output.pushAudio([0x08, 0], pts: 0, duration: 20_000_000) }
        output.abort()
    }

    @Test func diskFullMidStreamIsReportedAndPushesStop() throws {
        let reported = ReportBox()
        let p = try TestMedia.preset("file-mkv", values: ["location": "\"/dev/full\"", "bitrate_kbps": "300",
                                                          "keyframe_interval": "25"])
        let output = try OutputPipeline(description: p.pipeline, mode: p.mode, video: OutputFileTests.format, name: "full",
                                        onFailure: { reported.set($0) })
        try output.start()
        var pushError: OutputError?
        do {
            for _ in 0..<20 { try OutputFileTests.feed(output, seconds: 0.4) ; Thread.sleep(forTimeInterval: 0.05) }
        } catch {
            pushError = error as? OutputError
        }
        #expect(output.failure != nil)
        if case .failed = pushError {} else { Issue.record("pushes kept succeeding: \(String(describing: pushError))") }
        #expect(reported.value != nil)
        #expect(throws: OutputError.self) { try output.finish() }
    }
}

/// Collects what the failure callback (on the bus thread) reports.
final class ReportBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: OutputFailure?
    func set(_ f: OutputFailure) { lock.withLock { stored = f } }
    var value: OutputFailure? { lock.withLock { stored } }
}

@Suite struct OutputPipelineValidationTests {
    let format = VideoFormat(width: 64, height: 64, fps: 25)

    func build(_ description: String, allowed: Set<String> = ElementAllowlist.standard) throws(OutputError) -> OutputPipeline {
        try OutputPipeline(description: description, mode: .offline, video: format, name: "validation", allowedElements: allowed)
    }

    @Test(arguments: [
        ("queue name=video ! fakesink  queue name=audio ! fakesink  filesrc location=/etc/passwd ! fakesink", "filesrc"),
        ("queue name=video ! fakesink  queue name=audio ! fdsink fd=1", "fdsink"),
        ("queue name=video ! appsink  queue name=audio ! fakesink", "appsink"),
        ("queue name=video ! fakesink  ( queue name=audio ! shmsink socket-path=/tmp/x )", "shmsink"),
        ("queue name=video ! fakesink  queue name=audio ! fakesink  multifilesrc location=/etc/x ! fakesink", "multifilesrc"),
        ("queue name=video ! fakesink  queue name=audio ! fakesink  udpsrc port=5000 ! fakesink", "udpsrc"),
        ("queue name=video ! x264enc ! h264parse ! splitmuxsink sink-factory=fdsink  queue name=audio ! fakesink", "fdsink"),
    ])
    func rejectsElementsOutsideTheAllowlist(description: String, factory: String) {
        do {
            _ = try build(description)
            Issue.record("accepted \(description)")
        } catch .forbiddenElement(let f, let element) {
            #expect(f == factory, "element \(element)")
            #expect(OutputError.forbiddenElement(factory: f, element: element).description.contains(factory))
        } catch {
            Issue.record("wrong error \(error)")
        }
    }

    @Test func needsBothEntries() {
        #expect(throws: OutputError.missingEntry("audio")) { try build("queue name=video ! fakesink") }
        #expect(throws: OutputError.missingEntry("video")) { try build("queue name=audio ! fakesink  queue ! fakesink") }
    }

    @Test func reportsParseErrors() {
        do {
            _ = try build("queue name=video ! no-such-element-x  queue name=audio ! fakesink")
            Issue.record("parsed")
        } catch .parse(let message) {
            #expect(message.contains("no-such-element-x"), "\(message)")
        } catch {
            Issue.record("wrong error \(error)")
        }
    }

    @Test func rejectsEntriesThatCannotTakeTheHeadsCaps() {
        // An audio encoder as the video entry cannot accept raw I420.
        #expect(throws: OutputError.self) { try build("opusenc name=video ! fakesink  queue name=audio ! fakesink") }
    }

    @Test func rejectsOddSizesAndBadRates() {
        #expect(throws: OutputError.self) {
            try OutputPipeline(description: "queue name=video ! fakesink queue name=audio ! fakesink", mode: .live,
                               video: VideoFormat(width: 63, height: 64, fps: 25), name: "odd")
        }
        #expect(throws: OutputError.self) {
            try OutputPipeline(description: "queue name=video ! fakesink queue name=audio ! fakesink", mode: .live,
                               video: VideoFormat(width: 64, height: 64, fps: 0), name: "rate")
        }
    }

    @Test func pushesAreCheckedAndNeedStart() throws {
        let output = try build("queue name=video ! fakesink  queue name=audio ! fakesink")
        #expect(throws: OutputError.self) { try output.pushAudio([0x08, 0], pts: 0, duration: 20_000_000) }
        try output.start()
        #expect(throws: OutputError.self) { try output.pushVideo(I420Frame(width: 32, height: 32), pts: 0, duration: 40_000_000) }
        #expect(throws: OutputError.self) { try output.pushAudio([], pts: 0, duration: 20_000_000) }
        try output.pushVideo(I420Frame(width: 64, height: 64), pts: 0, duration: 40_000_000)
        try output.finish()
    }

    /// Widths that are not a multiple of 8 have padded rows in GStreamer's I420; the picture must survive.
    @Test func oddStrideFramesKeepTheirPicture() throws {
        let dir = try TestMedia.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("stride.mkv").path
        let format = VideoFormat(width: 100, height: 60, fps: 25)
        let p = try TestMedia.preset("file-mkv", values: ["location": "\"\(path)\"", "bitrate_kbps": "2000", "keyframe_interval": "25"])
        let output = try OutputPipeline(description: p.pipeline, mode: p.mode, video: format, name: "stride")
        try output.start()
        // Left half dark, right half bright.
        var rgba = [UInt8](repeating: 255, count: 100 * 60 * 4)
        for y in 0..<60 { for x in 0..<50 { for c in 0..<3 { rgba[(y * 100 + x) * 4 + c] = 20 } } }
        let frame = I420Frame(rgba: rgba, width: 100, height: 60)
        let packet = try OpusEncoder().encode([Float](repeating: 0, count: 960))
        for k in 0..<10 {
            try output.pushVideo(frame, pts: UInt64(k) * 40_000_000, duration: 40_000_000)
            try output.pushAudio(packet, pts: UInt64(k) * 40_000_000, duration: 20_000_000)
            try output.pushAudio(packet, pts: UInt64(k) * 40_000_000 + 20_000_000, duration: 20_000_000)
        }
        try output.finish()
        let probe = try MediaProbe(path: path)
        let last = try #require(probe.frames.last)
        #expect(last.width == 100 && last.height == 60)
        for y in stride(from: 5, to: 55, by: 10) {
            #expect(last.luma[y * 100 + 20] < 50, "row \(y) left \(last.luma[y * 100 + 20])")
            #expect(last.luma[y * 100 + 80] > 200, "row \(y) right \(last.luma[y * 100 + 80])")
        }
    }
}

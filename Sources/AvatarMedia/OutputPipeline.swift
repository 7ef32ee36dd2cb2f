public import AvatarFormats
internal import CGStreamerShims
internal import CGStreamer
internal import CGStreamerApp
import Foundation
import Logging
import Synchronization

/// A GStreamer output: the daemon's two `appsrc` heads (raw I420 video, the client's original Opus packets)
/// linked to an operator-supplied sink-side bin. The description is parsed with fatal errors on, every
/// element is checked against an allowlist, and it must name the entries of its branches `video` and `audio`.
///
/// Timestamps are the caller's (`do-timestamp=false`): running time in nanoseconds from the session's
/// audio timeline, the same origin for both heads.
///
/// Queues (decided here; docs/operations.md "Output presets" documents them for operators):
/// - live: video head `max-buffers=3`, `max-bytes=0`, `leaky-type=downstream` (a late frame is worth less
///   than the next one; drops are counted), audio head `max-buffers=50` (1 s of 20 ms packets), leaky too.
///   Pushes never wait.
/// - offline: nothing is ever dropped. The video head holds at most `offlineQueueBytes`; above that
///   `pushVideo` waits on the calling thread for the encoder (polling the queue level every few ms, woken at
///   once by a failure, `finish` or `abort`), up to `offlineStallTimeout`. Call it from the session's
///   render thread, never from a NIO event loop or the Swift cooperative pool; `isBackpressured` tells a
///   caller beforehand whether a push would wait.
///
/// Thread safety: all methods may be called from any thread; pushes are meant to come from one thread.
/// Bus messages are read on a dedicated thread; failures are reported through `failure`, `failures` (an
/// AsyncStream) and the optional `onFailure` callback (called on the bus thread: don't block in it).
/// `finish()` sends end-of-stream on both heads and waits for EOS on the bus before going to NULL, so MP4
/// indexes are written; it may be called from another thread than the pushes (client vanished, SIGTERM).
public final class OutputPipeline: @unchecked Sendable {
    // @unchecked: the GStreamer calls used are thread-safe; mutable Swift state is in `control`/`counters`.
    public enum Mode: Sendable { case live, offline }

    private struct Control {
        var started = false
        var ending = false
        var tornDown = false
    }

    public let name: String
    public let mode: Mode
    public let video: VideoFormat
    /// Bus ERRORs, at most one (the pipeline is dead after it); finishes when the pipeline is torn down.
    public let failures: AsyncStream<OutputFailure>
    /// WebRTC viewers (WHEP), when the preset ends its branches in tees named `whep_video` / `whep_audio`.
    public let webrtc: WebRTCFanout?

    private let pipeline: UnsafeMutablePointer<GstElement>
    private let videoSource: UnsafeMutablePointer<GstElement>
    private let audioSource: UnsafeMutablePointer<GstElement>
    private let watcher: OutputBusWatcher
    private let failureContinuation: AsyncStream<OutputFailure>.Continuation
    private let control = Mutex(Control())
    private let counters = Mutex(OutputStats())
    private let logger: Logger
    private let layout: GStreamerI420Layout

    /// Live: buffers the heads hold before dropping the oldest.
    public static let liveVideoQueueBuffers: UInt64 = 3
    public static let liveAudioQueueBuffers: UInt64 = 50
    /// Offline: raw video allowed to wait in the video head before `pushVideo` waits for the encoder.
    public let offlineQueueBytes: UInt64
    /// Offline: how long `pushVideo` waits for room before giving up (the encoder is stuck).
    public let offlineStallTimeout: Duration

    /// Parses `description` (sink side only, with elements named `video` and `audio`), checks it against
    /// `allowedElements`, creates the heads and links them. Nothing runs until `start()`.
    public init(description: String, mode: Mode, video: VideoFormat, name: String,
                allowedElements: Set<String> = ElementAllowlist.standard,
                logger: Logger = Logger(label: "avatard.media.output"),
                offlineQueueFrames: Int = 8, offlineStallTimeout: Duration = .seconds(30),
                stringBindings: [String: String] = [:], maxViewers: Int = 8,
                onFailure: (@Sendable (OutputFailure) -> Void)? = nil) throws(OutputError) {
        guard video.width > 0, video.height > 0, video.width % 2 == 0, video.height % 2 == 0,
              video.width <= 8192, video.height <= 8192 else {
            throw .invalidFormat("\(video.width)x\(video.height) (I420 output needs even sizes up to 8192)")
        }
        guard (1...240).contains(video.fps) else { throw .invalidFormat("\(video.fps) fps (1...240)") }
        GStreamerRuntime.initialize()
        self.name = name
        self.mode = mode
        self.video = video
        var logger = logger
        logger[metadataKey: "output.name"] = "\(name)"
        self.logger = logger
        self.layout = GStreamerI420Layout(width: video.width, height: video.height)
        self.offlineQueueBytes = UInt64(max(2, offlineQueueFrames)) * UInt64(layout.size)
        self.offlineStallTimeout = offlineStallTimeout

        var error: UnsafeMutablePointer<GError>?
        let parsed = gst_parse_bin_from_description_full(description, 0, nil, GST_PARSE_FLAG_FATAL_ERRORS, &error)
        if let error {
            let message = String(cString: error.pointee.message)
            g_error_free(error)
            if let parsed { gst_object_unref(UnsafeMutableRawPointer(parsed)) }
            throw .parse(message)
        }
        guard let sinkBin = parsed else { throw .parse("the description is empty") }
        _ = gst_object_ref_sink(UnsafeMutableRawPointer(sinkBin))
        do throws(OutputError) {
            try ElementAllowlist.check(sinkBin, allowed: allowedElements)
            try PipelineBindings.apply(stringBindings, to: sinkBin)
        } catch {
            gst_object_unref(UnsafeMutableRawPointer(sinkBin))
            throw error
        }

        guard let pipeline = gst_pipeline_new(name),
              let videoSource = gst_element_factory_make("appsrc", "avatard-video"),
              let audioSource = gst_element_factory_make("appsrc", "avatard-audio") else {
            gst_object_unref(UnsafeMutableRawPointer(sinkBin))
            throw .parse("cannot create appsrc (is gstreamer1.0-plugins-base installed?)")
        }
        _ = gst_object_ref_sink(UnsafeMutableRawPointer(pipeline))
        let binOfPipeline = Self.bin(pipeline)
        _ = gst_bin_add(binOfPipeline, videoSource)
        _ = gst_bin_add(binOfPipeline, audioSource)
        _ = gst_bin_add(binOfPipeline, sinkBin)
        gst_object_unref(UnsafeMutableRawPointer(sinkBin))
        self.pipeline = pipeline
        self.videoSource = videoSource
        self.audioSource = audioSource

        let (stream, continuation) = AsyncStream<OutputFailure>.makeStream(bufferingPolicy: .bufferingNewest(4))
        failures = stream
        failureContinuation = continuation
        watcher = OutputBusWatcher(pipeline: pipeline, logger: logger) { failure in
            continuation.yield(failure)
            onFailure?(failure)
        }

        webrtc = WebRTCFanout.find(in: pipeline, maxViewers: maxViewers, logger: logger)
        if let webrtc {
            // A viewer's error ends that viewer, not the session.
            watcher.onViewerError = { [weak webrtc] id, message in webrtc?.viewerFailed(id, message: message) }
        }

        Self.configure(videoSource, caps: video.caps, mode: mode,
                       maxBuffers: mode == .live ? Self.liveVideoQueueBuffers : 0,
                       maxBytes: mode == .live ? 0 : offlineQueueBytes)
        Self.configure(audioSource, caps: Self.opusCaps, mode: mode,
                       maxBuffers: mode == .live ? Self.liveAudioQueueBuffers : 0, maxBytes: 0)

        for (source, entryName) in [(videoSource, "video"), (audioSource, "audio")] {
            guard let entry = gst_bin_get_by_name(binOfPipeline, entryName), entry != source else {
                teardown()
                throw .missingEntry(entryName)
            }
            let linked = gst_element_link(source, entry) != 0
                && Self.peerAccepts(source, caps: entryName == "video" ? video.caps : Self.opusCaps)
            gst_object_unref(UnsafeMutableRawPointer(entry))
            guard linked else {
                teardown()
                throw .link("the \(entryName) head to the preset's '\(entryName)' element (does it accept "
                    + (entryName == "video" ? video.caps : Self.opusCaps) + " on a free sink pad?)")
            }
        }
        watcher.start(name: name)
    }

    deinit {
        teardown()
        gst_object_unref(UnsafeMutableRawPointer(pipeline))
    }

    /// The caps of the audio head: the client's Opus packets, mono 48 kHz, RTP-style mapping family 0.
    static let opusCaps = "audio/x-opus,rate=48000,channels=1,channel-mapping-family=0,stream-count=1,coupled-count=0"

    // MARK: lifecycle

    /// Brings the pipeline to PLAYING. A sink that cannot start (unwritable file, unresolvable host) fails
    /// here with GStreamer's reason. Offline pipelines finish prerolling once data flows.
    public func start() throws(OutputError) {
        let ready = control.withLock { c -> Bool in
            guard !c.ending, !c.started else { return false }
            c.started = true
            return true
        }
        guard ready else { throw .finished }
        let result = gst_element_set_state(pipeline, GST_STATE_PLAYING)
        if result == GST_STATE_CHANGE_FAILURE {
            // The reason is an ERROR on the bus; the watcher thread picks it up.
            let reason = watcher.waitForFailure(until: Date().addingTimeInterval(2))
            teardown()
            throw .stateChange(reason?.description ?? "state change to PLAYING failed")
        }
        if let failure = watcher.currentFailure {
            teardown()
            throw .stateChange(failure.description)
        }
        logger.debug("output pipeline started", metadata: ["output.mode": "\(mode)"])
    }

    /// The first bus ERROR, if one happened (e.g. disk full), as text.
    public var failure: String? { watcher.currentFailure?.description }

    /// The first bus ERROR, if one happened.
    public var lastFailure: OutputFailure? { watcher.currentFailure }

    /// End of stream on both heads, wait (up to `timeout`) for it to reach the sinks (files get their
    /// index), then stop. Safe to call from any thread, more than once, after `abort()` (then it does
    /// nothing) and after a failure (then it stops and throws the failure).
    public func finish(timeout: Duration = .seconds(15)) throws(OutputError) {
        let (started, alreadyEnding) = control.withLock { c -> (Bool, Bool) in
            defer { c.ending = true }
            return (c.started, c.ending)
        }
        guard !alreadyEnding else { return }
        // Viewers first: webrtcbin's RTCP never ends, so EOS would not reach the sinks while one is attached.
        webrtc?.close()
        var reachedEOS = true
        if started, watcher.currentFailure == nil {
            _ = gst_app_src_end_of_stream(Self.appsrc(videoSource))
            _ = gst_app_src_end_of_stream(Self.appsrc(audioSource))
            endRTCPBranches()
            reachedEOS = watcher.waitForEOS(until: Date().addingTimeInterval(Self.seconds(timeout)))
        }
        teardown()
        if let failure = watcher.currentFailure { throw .failed(failure.description) }
        if !reachedEOS { throw .finalizeTimeout }
        logger.debug("output pipeline finished", metadata: ["output.frames": "\(stats.videoFramesPushed)"])
    }

    /// Stops at once without end-of-stream (a file keeps what its muxer already wrote: with the fragmented
    /// MP4 and Matroska presets that is a playable file up to the last fragment/cluster).
    public func abort() {
        control.withLock { $0.ending = true }
        teardown()
    }

    // MARK: pushing

    /// Whether a `pushVideo` now would wait for the encoder (offline outputs only).
    public var isBackpressured: Bool {
        mode == .offline && UInt64(gst_app_src_get_current_level_bytes(Self.appsrc(videoSource))) >= offlineQueueBytes
    }

    /// One I420 frame of exactly the output's size. `pts`/`duration` in nanoseconds of running time.
    public func pushVideo(_ frame: I420Frame, pts: UInt64, duration: UInt64) throws(OutputError) {
        guard frame.width == video.width, frame.height == video.height else {
            throw .push("frame is \(frame.width)x\(frame.height), the output expects \(video.width)x\(video.height)")
        }
        var failure: OutputError?
        frame.data.withUnsafeBytes { bytes in
            do throws(OutputError) { try pushVideo(planes: bytes, pts: pts, duration: duration) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// One frame as tightly packed I420 planes (Y, then U, then V; `I420Frame.byteCount` bytes).
    public func pushVideo(planes: UnsafeRawBufferPointer, pts: UInt64, duration: UInt64) throws(OutputError) {
        let packed = I420Frame.byteCount(width: video.width, height: video.height)
        guard planes.count == packed else {
            throw .push("frame has \(planes.count) bytes, \(video.width)x\(video.height) I420 needs \(packed)")
        }
        try checkPushable()
        if mode == .offline { try waitForRoom() }
        guard let buffer = gst_buffer_new_allocate(nil, gsize(layout.size), nil) else { throw .push("out of memory") }
        var map = GstMapInfo()
        guard gst_buffer_map(buffer, &map, GST_MAP_WRITE) != 0, let base = map.data else {
            gst_buffer_unref(buffer)
            throw .push("cannot map a video buffer")
        }
        // GStreamer's I420 rows are 4-byte aligned; copy plane by plane when that differs from packed.
        layout.copy(packed: planes, into: UnsafeMutableRawBufferPointer(start: base, count: layout.size),
                    width: video.width, height: video.height)
        gst_buffer_unmap(buffer, &map)
        let wouldDrop = mode == .live
            && UInt64(gst_app_src_get_current_level_buffers(Self.appsrc(videoSource))) >= Self.liveVideoQueueBuffers
        try push(buffer, to: videoSource, pts: pts, duration: duration)
        counters.withLock {
            $0.videoFramesPushed += 1
            if wouldDrop { $0.videoFramesDropped += 1 }
        }
    }

    /// One original Opus packet (48 kHz mono). `pts`/`duration` in nanoseconds of running time.
    public func pushAudio(_ packet: [UInt8], pts: UInt64, duration: UInt64) throws(OutputError) {
        guard !packet.isEmpty else { throw .push("empty Opus packet") }
        try checkPushable()
        guard let buffer = gst_buffer_new_allocate(nil, gsize(packet.count), nil) else { throw .push("out of memory") }
        _ = packet.withUnsafeBytes { gst_buffer_fill(buffer, 0, $0.baseAddress, gsize($0.count)) }
        let wouldDrop = mode == .live
            && UInt64(gst_app_src_get_current_level_buffers(Self.appsrc(audioSource))) >= Self.liveAudioQueueBuffers
        try push(buffer, to: audioSource, pts: pts, duration: duration)
        counters.withLock {
            $0.audioPacketsPushed += 1
            if wouldDrop { $0.audioPacketsDropped += 1 }
        }
    }

    /// Bytes waiting in the video and audio heads.
    public var queuedBytes: (video: UInt64, audio: UInt64) {
        (UInt64(gst_app_src_get_current_level_bytes(Self.appsrc(videoSource))),
         UInt64(gst_app_src_get_current_level_bytes(Self.appsrc(audioSource))))
    }

    public var stats: OutputStats {
        var s = counters.withLock { $0 }
        s.videoQueuedBytes = UInt64(gst_app_src_get_current_level_bytes(Self.appsrc(videoSource)))
        s.videoQueuedBuffers = UInt64(gst_app_src_get_current_level_buffers(Self.appsrc(videoSource)))
        s.audioQueuedBytes = UInt64(gst_app_src_get_current_level_bytes(Self.appsrc(audioSource)))
        return s
    }

    // MARK: internals

    private func checkPushable() throws(OutputError) {
        if let failure = watcher.currentFailure { throw .failed(failure.description) }
        let state = control.withLock { $0 }
        guard state.started else { throw .push("the output was not started") }
        guard !state.ending else { throw .finished }
    }

    private func push(_ buffer: UnsafeMutablePointer<GstBuffer>, to source: UnsafeMutablePointer<GstElement>,
                      pts: UInt64, duration: UInt64) throws(OutputError) {
        avd_gst_buffer_set_pts(buffer, GstClockTime(pts))
        avd_gst_buffer_set_dts(buffer, GstClockTime(pts))
        avd_gst_buffer_set_duration(buffer, GstClockTime(duration))
        // Takes ownership of the buffer.
        let flow = gst_app_src_push_buffer(Self.appsrc(source), buffer)
        guard flow == GST_FLOW_OK else {
            if let failure = watcher.currentFailure { throw .failed(failure.description) }
            if control.withLock({ $0.ending }) { throw .finished }
            throw .push(String(cString: gst_flow_get_name(flow)))
        }
    }

    private func waitForRoom() throws(OutputError) {
        guard isBackpressured else { return }
        let clock = ContinuousClock()
        let start = clock.now
        defer {
            let waited = clock.now - start
            let nanos = UInt64(waited.components.seconds) * 1_000_000_000 + UInt64(waited.components.attoseconds / 1_000_000_000)
            counters.withLock { $0.backpressureWaitNanos += nanos }
        }
        while isBackpressured {
            if let failure = watcher.currentFailure { throw .failed(failure.description) }
            if control.withLock({ $0.ending }) { throw .finished }
            guard clock.now - start < offlineStallTimeout else {
                throw .push("the encoder made no progress for \(offlineStallTimeout)")
            }
            _ = watcher.waitForFailure(until: Date().addingTimeInterval(0.003))
        }
    }

    /// rtpbin's RTCP source pads never carry EOS (the session keeps its RTCP timer), so the sinks behind
    /// them would hold the pipeline's EOS message back forever. End them directly; the data branches still
    /// drain normally.
    private func endRTCPBranches() {
        Self.forEachElement(in: pipeline) { element in
            guard avd_gst_element_factory_name(element).map({ String(cString: $0) }) == "rtpbin" else { return }
            var node = element.pointee.srcpads
            while let current = node {
                if let raw = current.pointee.data,
                   let name = avd_gst_object_name(raw).map({ String(cString: $0) }), name.hasPrefix("send_rtcp_src"),
                   let peer = gst_pad_get_peer(raw.assumingMemoryBound(to: GstPad.self)) {
                    _ = gst_pad_send_event(peer, gst_event_new_eos())
                    gst_object_unref(UnsafeMutableRawPointer(peer))
                }
                node = current.pointee.next
            }
        }
    }

    /// Visits every element under `bin`, entering child bins.
    private static func forEachElement(in bin: UnsafeMutablePointer<GstElement>, _ body: (UnsafeMutablePointer<GstElement>) -> Void) {
        var node = avd_gst_bin_children(Self.bin(bin))
        while let current = node {
            if let raw = current.pointee.data {
                let child = raw.assumingMemoryBound(to: GstElement.self)
                body(child)
                if avd_gst_is_bin(raw) != 0 { forEachElement(in: child, body) }
            }
            node = current.pointee.next
        }
    }

    private func teardown() {
        let first = control.withLock { c -> Bool in
            defer { c.tornDown = true }
            return !c.tornDown
        }
        guard first else { return }
        webrtc?.close()
        // The watcher first: a pipeline in NULL flushes its bus, which would swallow the watcher's wake-up.
        watcher.stop()
        _ = gst_element_set_state(pipeline, GST_STATE_NULL)
        failureContinuation.finish()
    }

    private static func configure(_ source: UnsafeMutablePointer<GstElement>, caps: String, mode: Mode,
                                  maxBuffers: UInt64, maxBytes: UInt64) {
        let object = UnsafeMutableRawPointer(source)
        if let c = gst_caps_from_string(caps) {
            avd_g_object_set_caps(object, "caps", c)
            gst_caps_unref(c)
        }
        gst_util_set_object_arg(object.assumingMemoryBound(to: GObject.self), "format", "time")
        gst_util_set_object_arg(object.assumingMemoryBound(to: GObject.self), "stream-type", "stream")
        avd_g_object_set_bool(object, "is-live", mode == .live ? 1 : 0)
        avd_g_object_set_bool(object, "do-timestamp", 0)
        avd_g_object_set_bool(object, "block", 0)
        avd_g_object_set_bool(object, "emit-signals", 0)
        avd_g_object_set_uint64(object, "max-bytes", guint64(maxBytes))
        avd_g_object_set_uint64(object, "max-buffers", guint64(maxBuffers))
        avd_g_object_set_uint64(object, "max-time", guint64(0))
        if mode == .live {
            // A late frame is worth less than the next one: keep the queue tiny and drop the oldest.
            gst_util_set_object_arg(object.assumingMemoryBound(to: GObject.self), "leaky-type", "downstream")
        }
    }

    /// Whether the element the head was linked to accepts the head's caps (linking only compares templates,
    /// and appsrc's template is ANY).
    private static func peerAccepts(_ source: UnsafeMutablePointer<GstElement>, caps: String) -> Bool {
        guard let pad = gst_element_get_static_pad(source, "src") else { return false }
        defer { gst_object_unref(UnsafeMutableRawPointer(pad)) }
        guard let peer = gst_pad_get_peer(pad), let c = gst_caps_from_string(caps) else { return false }
        defer {
            gst_object_unref(UnsafeMutableRawPointer(peer))
            gst_caps_unref(c)
        }
        return gst_pad_query_accept_caps(peer, c) != 0
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    private static func bin(_ element: UnsafeMutablePointer<GstElement>) -> UnsafeMutablePointer<GstBin> {
        UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstBin.self)
    }

    private static func appsrc(_ element: UnsafeMutablePointer<GstElement>) -> UnsafeMutablePointer<GstAppSrc> {
        UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstAppSrc.self)
    }
}

internal import CAvatarShims
internal import CGStreamer
internal import CGStreamerApp
import Foundation
import Synchronization

/// A GStreamer output: the daemon's two `appsrc` heads (raw I420 video, the client's Opus packets) linked to
/// an operator-supplied sink-side bin. The description is parsed with fatal errors on and every element is
/// checked against an allowlist; it must name the entries of its branches `video` and `audio`.
///
/// Timestamps are stamped by the caller (`do-timestamp=false`) from the session's audio timeline. Pushes
/// never block: live outputs keep a tiny leaky queue; offline outputs wait (briefly, on the caller's render
/// thread) while the encoder catches up. Bus messages are read on a dedicated thread. `finish()` sends
/// end-of-stream and waits for it to reach the sinks before tearing down, so files are always finalized.
public final class OutputPipeline: @unchecked Sendable {
    // @unchecked: GStreamer objects are thread-safe for these calls; mutable Swift state is in `state`.
    public enum Mode: Sendable { case live, offline }

    private struct State {
        var failure: String?
        var eos = false
        var stopped = false
    }

    public let name: String
    public let mode: Mode
    public let video: VideoFormat
    private let pipeline: UnsafeMutablePointer<GstElement>
    private let videoSource: UnsafeMutablePointer<GstElement>
    private let audioSource: UnsafeMutablePointer<GstElement>
    private let bus: UnsafeMutablePointer<GstBus>
    private let state = Mutex(State())
    private let eosSignal = DispatchSemaphore(value: 0)
    private var busThread: Thread?
    private var finished = false

    /// Offline: how much raw video may wait inside the pipeline before pushes wait for the encoder.
    private let offlineQueueLimit: UInt64 = 48 << 20

    public init(description: String, mode: Mode, video: VideoFormat, name: String,
                allowedElements: Set<String> = ElementAllowlist.standard) throws(OutputError) {
        GStreamerRuntime.initialize()
        self.name = name
        self.mode = mode
        self.video = video

        var error: UnsafeMutablePointer<GError>?
        let parsed = gst_parse_bin_from_description_full(description, 0, nil, GST_PARSE_FLAG_FATAL_ERRORS, &error)
        if let error {
            let message = String(cString: error.pointee.message)
            g_error_free(error)
            if let parsed { gst_object_unref(UnsafeMutableRawPointer(parsed)) }
            throw .parse(message)
        }
        guard let sinkBin = parsed else { throw .parse("no element") }
        _ = gst_object_ref_sink(UnsafeMutableRawPointer(sinkBin))
        do throws(OutputError) {
            try Self.checkAllowed(sinkBin, allowed: allowedElements)
        } catch {
            gst_object_unref(UnsafeMutableRawPointer(sinkBin))
            throw error
        }

        let pipeline = gst_pipeline_new(name)!
        let binOfPipeline = Self.bin(pipeline)
        let videoSource = gst_element_factory_make("appsrc", "videosrc")!
        let audioSource = gst_element_factory_make("appsrc", "audiosrc")!
        _ = gst_bin_add(binOfPipeline, videoSource)
        _ = gst_bin_add(binOfPipeline, audioSource)
        _ = gst_bin_add(binOfPipeline, sinkBin)
        gst_object_unref(UnsafeMutableRawPointer(sinkBin))
        self.pipeline = pipeline
        self.videoSource = videoSource
        self.audioSource = audioSource
        self.bus = gst_element_get_bus(pipeline)

        Self.configure(videoSource, caps: video.caps, live: mode == .live)
        Self.configure(audioSource, caps: "audio/x-opus,rate=48000,channels=1,channel-mapping-family=0,stream-count=1,coupled-count=0",
                       live: mode == .live)

        for (source, entryName) in [(videoSource, "video"), (audioSource, "audio")] {
            guard let entry = gst_bin_get_by_name(Self.bin(sinkBin), entryName) else {
                teardown()
                throw .missingEntry(entryName)
            }
            let linked = gst_element_link(source, entry)
            gst_object_unref(UnsafeMutableRawPointer(entry))
            guard linked != 0 else {
                teardown()
                throw .link("\(entryName) head to the preset's '\(entryName)' element (caps not accepted?)")
            }
        }
        startBusThread()
    }

    deinit {
        if !finished { teardown() }
        gst_object_unref(UnsafeMutableRawPointer(bus))
        gst_object_unref(UnsafeMutableRawPointer(pipeline))
    }

    /// Brings the pipeline to PLAYING; a sink that cannot start (unwritable file, bad address) fails here.
    public func start() throws(OutputError) {
        let result = gst_element_set_state(pipeline, GST_STATE_PLAYING)
        if result == GST_STATE_CHANGE_FAILURE {
            // The bus thread records the reason; give it a moment to arrive.
            Thread.sleep(forTimeInterval: 0.05)
            throw .stateChange(failure ?? "state change to PLAYING failed")
        }
        if result == GST_STATE_CHANGE_ASYNC {
            // Offline pipelines preroll once data flows; only a hard failure is checked here.
            var current = GST_STATE_NULL
            _ = gst_element_get_state(pipeline, &current, nil, 0)
        }
        if let failure { throw .stateChange(failure) }
    }

    /// A bus ERROR, if one happened (e.g. disk full).
    public var failure: String? { state.withLock { $0.failure } }

    public func pushVideo(_ frame: I420Frame, pts: UInt64, duration: UInt64) throws(OutputError) {
        guard frame.width == video.width, frame.height == video.height else {
            throw .push("frame is \(frame.width)x\(frame.height), the output expects \(video.width)x\(video.height)")
        }
        if mode == .offline { try waitForRoom(videoSource) }
        try push(frame.data, to: videoSource, pts: pts, duration: duration)
    }

    public func pushAudio(_ packet: [UInt8], pts: UInt64, duration: UInt64) throws(OutputError) {
        try push(packet, to: audioSource, pts: pts, duration: duration)
    }

    /// Bytes waiting in the video and audio heads.
    public var queuedBytes: (video: UInt64, audio: UInt64) {
        (UInt64(gst_app_src_get_current_level_bytes(Self.appsrc(videoSource))),
         UInt64(gst_app_src_get_current_level_bytes(Self.appsrc(audioSource))))
    }

    /// End of stream on both heads, wait for it to reach the sinks (files get their index), then stop.
    public func finish(timeout: Duration = .seconds(15)) throws(OutputError) {
        guard !finished else { return }
        finished = true
        defer { teardown() }
        if failure == nil {
            _ = gst_app_src_end_of_stream(Self.appsrc(videoSource))
            _ = gst_app_src_end_of_stream(Self.appsrc(audioSource))
            let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) * 1e-18
            if eosSignal.wait(timeout: .now() + seconds) == .timedOut, failure == nil {
                throw .finalizeTimeout
            }
        }
        if let failure { throw .failed(failure) }
    }

    /// Stops at once without finalizing (tests of failure paths; prefer `finish`).
    public func abort() {
        guard !finished else { return }
        finished = true
        teardown()
    }

    // MARK: internals

    private func push(_ bytes: [UInt8], to source: UnsafeMutablePointer<GstElement>, pts: UInt64, duration: UInt64) throws(OutputError) {
        if let failure { throw .failed(failure) }
        guard let buffer = gst_buffer_new_allocate(nil, gsize(bytes.count), nil) else { throw .push("out of memory") }
        _ = bytes.withUnsafeBytes { gst_buffer_fill(buffer, 0, $0.baseAddress, gsize($0.count)) }
        avd_gst_buffer_set_pts(buffer, GstClockTime(pts))
        avd_gst_buffer_set_dts(buffer, GstClockTime(pts))
        avd_gst_buffer_set_duration(buffer, GstClockTime(duration))
        // Takes ownership of the buffer.
        let flow = gst_app_src_push_buffer(Self.appsrc(source), buffer)
        guard flow == GST_FLOW_OK else {
            throw .push(failure ?? String(cString: gst_flow_get_name(flow)))
        }
    }

    private func waitForRoom(_ source: UnsafeMutablePointer<GstElement>) throws(OutputError) {
        let deadline = Date().addingTimeInterval(30)
        while UInt64(gst_app_src_get_current_level_bytes(Self.appsrc(source))) > offlineQueueLimit {
            if let failure { throw .failed(failure) }
            guard Date() < deadline else { throw .push("the encoder made no progress for 30 s") }
            Thread.sleep(forTimeInterval: 0.002)
        }
    }

    private func teardown() {
        state.withLock { $0.stopped = true }
        _ = gst_element_set_state(pipeline, GST_STATE_NULL)
        busThread?.cancel()
    }

    private func startBusThread() {
        let bus = UnsafeSendable(self.bus)
        let thread = Thread { [weak self] in
            let mask = GstMessageType(rawValue: GST_MESSAGE_ERROR.rawValue | GST_MESSAGE_EOS.rawValue | GST_MESSAGE_WARNING.rawValue)
            while let owner = self, !owner.state.withLock({ $0.stopped }) {
                guard let message = gst_bus_timed_pop_filtered(bus.value, 100_000_000, mask) else { continue }
                owner.handle(message)
                gst_message_unref(message)
            }
        }
        thread.name = "avatard-gst-bus-\(name.prefix(8))"
        busThread = thread
        thread.start()
    }

    private func handle(_ message: UnsafeMutablePointer<GstMessage>) {
        let type = avd_gst_message_type(message)
        if type == GST_MESSAGE_EOS {
            state.withLock { $0.eos = true }
            eosSignal.signal()
        } else if type == GST_MESSAGE_ERROR {
            var error: UnsafeMutablePointer<GError>?
            var debug: UnsafeMutablePointer<gchar>?
            gst_message_parse_error(message, &error, &debug)
            let source = avd_gst_message_src(message).flatMap { avd_gst_object_name(UnsafeMutableRawPointer($0)) }
                .map { String(cString: $0) } ?? "pipeline"
            let text = error.map { String(cString: $0.pointee.message) } ?? "unknown error"
            if let error { g_error_free(error) }
            if let debug { g_free(debug) }
            let first = state.withLock { s -> Bool in
                if s.failure != nil { return false }
                s.failure = "\(source): \(text)"
                return true
            }
            if first { eosSignal.signal() }
        }
    }

    private static func configure(_ source: UnsafeMutablePointer<GstElement>, caps: String, live: Bool) {
        let object = UnsafeMutableRawPointer(source)
        if let c = gst_caps_from_string(caps) {
            avd_g_object_set_caps(object, "caps", c)
            gst_caps_unref(c)
        }
        gst_util_set_object_arg(object.assumingMemoryBound(to: GObject.self), "format", "time")
        gst_util_set_object_arg(object.assumingMemoryBound(to: GObject.self), "stream-type", "stream")
        avd_g_object_set_bool(object, "is-live", live ? 1 : 0)
        avd_g_object_set_bool(object, "do-timestamp", 0)
        avd_g_object_set_bool(object, "block", 0)
        avd_g_object_set_bool(object, "emit-signals", 0)
        if live {
            // A late frame is worth less than the next one: keep the queue tiny and drop the oldest.
            avd_g_object_set_uint64(object, "max-buffers", 3)
            gst_util_set_object_arg(object.assumingMemoryBound(to: GObject.self), "leaky-type", "downstream")
        } else {
            avd_g_object_set_uint64(object, "max-bytes", 0)
        }
    }

    private static func checkAllowed(_ element: UnsafeMutablePointer<GstElement>, allowed: Set<String>) throws(OutputError) {
        var node = avd_gst_bin_children(bin(element))
        while let current = node {
            if let raw = current.pointee.data {
                let child = raw.assumingMemoryBound(to: GstElement.self)
                let childName = avd_gst_object_name(raw).map { String(cString: $0) } ?? "?"
                let factory = avd_gst_element_factory_name(child).map { String(cString: $0) }
                if let factory, factory != "bin" {
                    guard allowed.contains(factory) else { throw .forbiddenElement(factory: factory, element: childName) }
                } else if avd_gst_is_bin(raw) != 0 {
                    // A bin the description itself made with ( … ): its elements are the operator's too.
                    // Allowed elements that are bins (rtpbin, splitmuxsink) build their own internals.
                    try checkAllowed(child, allowed: allowed)
                }
            }
            node = current.pointee.next
        }
    }

    private static func bin(_ element: UnsafeMutablePointer<GstElement>) -> UnsafeMutablePointer<GstBin> {
        UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstBin.self)
    }

    private static func appsrc(_ element: UnsafeMutablePointer<GstElement>) -> UnsafeMutablePointer<GstAppSrc> {
        UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstAppSrc.self)
    }
}

/// Moves a C pointer into the bus thread's closure.
private struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

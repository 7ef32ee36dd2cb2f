internal import CGStreamerShims
internal import CGStreamer
internal import CGStreamerApp
import Foundation

/// Demuxes a file with `parsebin` (no decoding) and records each elementary stream as the container holds
/// it: encoded caps, first PTS, end, packet count; plus the container's duration. Blocking.
final class StreamInspector: @unchecked Sendable {
    // @unchecked: `streams` is guarded by `lock`; the C callbacks run on GStreamer streaming threads.
    final class Slot: @unchecked Sendable {
        let inspector: StreamInspector
        let index: Int
        init(inspector: StreamInspector, index: Int) {
            self.inspector = inspector
            self.index = index
        }
    }

    private let lock = NSLock()
    private var streams: [MediaProbe.Stream] = []
    private let pipeline: UnsafeMutablePointer<GstElement>

    private init(pipeline: UnsafeMutablePointer<GstElement>) {
        self.pipeline = pipeline
    }

    static func inspect(path: String, timeout: Double = 60) throws(MediaError) -> (streams: [MediaProbe.Stream], duration: UInt64?) {
        GStreamerRuntime.initialize()
        var error: UnsafeMutablePointer<GError>?
        guard let pipeline = gst_parse_launch_full("filesrc name=src ! parsebin name=demux", nil, GST_PARSE_FLAG_FATAL_ERRORS, &error) else {
            let message = error.map { String(cString: $0.pointee.message) } ?? "cannot build parsebin"
            if let error { g_error_free(error) }
            throw .pipeline(message)
        }
        _ = gst_object_ref_sink(UnsafeMutableRawPointer(pipeline))
        defer {
            _ = gst_element_set_state(pipeline, GST_STATE_NULL)
            gst_object_unref(UnsafeMutableRawPointer(pipeline))
        }
        let bin = UnsafeMutableRawPointer(pipeline).assumingMemoryBound(to: GstBin.self)
        let inspector = StreamInspector(pipeline: pipeline)
        if let src = gst_bin_get_by_name(bin, "src") {
            gst_util_set_object_arg(UnsafeMutableRawPointer(src).assumingMemoryBound(to: GObject.self), "location", path)
            gst_object_unref(UnsafeMutableRawPointer(src))
        }
        guard let demux = gst_bin_get_by_name(bin, "demux") else { throw .pipeline("no parsebin") }
        let context = Unmanaged.passRetained(inspector).toOpaque()
        _ = avd_g_signal_connect_pad_added(demux, { _, pad, data in
            guard let pad, let data else { return }
            Unmanaged<StreamInspector>.fromOpaque(data).takeUnretainedValue().padAdded(pad)
        }, context, { data, _ in
            if let data { Unmanaged<StreamInspector>.fromOpaque(data).release() }
        })
        gst_object_unref(UnsafeMutableRawPointer(demux))

        if gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE {
            throw .decode(Self.waitForEnd(pipeline, timeout: 2) ?? "cannot start reading \(path)")
        }
        if let failure = Self.waitForEnd(pipeline, timeout: timeout) { throw .decode(failure) }
        var duration: gint64 = -1
        let known = gst_element_query_duration(pipeline, GST_FORMAT_TIME, &duration) != 0 && duration >= 0
        let found = inspector.lock.withLock { inspector.streams }
        return (found, known ? UInt64(duration) : nil)
    }

    /// Waits for EOS (nil) or an ERROR (its message).
    private static func waitForEnd(_ pipeline: UnsafeMutablePointer<GstElement>, timeout: Double) -> String? {
        guard let bus = gst_element_get_bus(pipeline) else { return "no bus" }
        defer { gst_object_unref(UnsafeMutableRawPointer(bus)) }
        let mask = GstMessageType(rawValue: GST_MESSAGE_ERROR.rawValue | GST_MESSAGE_EOS.rawValue)
        guard let message = gst_bus_timed_pop_filtered(bus, GstClockTime(timeout * 1e9), mask) else {
            return "timed out after \(timeout) s"
        }
        defer { gst_message_unref(message) }
        guard avd_gst_message_type(message) == GST_MESSAGE_ERROR else { return nil }
        return BusError(message)?.message ?? "unknown error"
    }

    /// Streaming thread: a new elementary stream. Records it and drains it into an appsink.
    private func padAdded(_ pad: UnsafeMutablePointer<GstPad>) {
        var capsText = ""
        var mediaType = ""
        if let caps = gst_pad_get_current_caps(pad) ?? gst_pad_query_caps(pad, nil) {
            if let text = gst_caps_to_string(caps) {
                capsText = String(cString: text)
                g_free(text)
            }
            if gst_caps_get_size(caps) > 0, let s = gst_caps_get_structure(caps, 0), let n = gst_structure_get_name(s) {
                mediaType = String(cString: n)
            }
            gst_caps_unref(caps)
        }
        let index = lock.withLock { () -> Int in
            streams.append(MediaProbe.Stream(mediaType: mediaType, caps: capsText))
            return streams.count - 1
        }
        guard let sink = gst_element_factory_make("appsink", nil) else { return }
        avd_g_object_set_bool(UnsafeMutableRawPointer(sink), "sync", 0)
        var callbacks = GstAppSinkCallbacks()
        callbacks.new_sample = { sink, data in
            guard let sink, let data else { return GST_FLOW_OK }
            let slot = Unmanaged<Slot>.fromOpaque(data).takeUnretainedValue()
            guard let sample = gst_app_sink_pull_sample(sink) else { return GST_FLOW_EOS }
            defer { gst_sample_unref(sample) }
            if let buffer = gst_sample_get_buffer(sample) {
                slot.inspector.record(slot.index, pts: avd_gst_buffer_get_pts(buffer),
                                      duration: avd_gst_buffer_get_duration(buffer), bytes: Int(gst_buffer_get_size(buffer)))
            }
            return GST_FLOW_OK
        }
        let slot = Unmanaged.passRetained(Slot(inspector: self, index: index)).toOpaque()
        gst_app_sink_set_callbacks(UnsafeMutableRawPointer(sink).assumingMemoryBound(to: GstAppSink.self), &callbacks, slot, { data in
            if let data { Unmanaged<Slot>.fromOpaque(data).release() }
        })
        _ = gst_bin_add(UnsafeMutableRawPointer(pipeline).assumingMemoryBound(to: GstBin.self), sink)
        _ = gst_element_sync_state_with_parent(sink)
        if let sinkPad = gst_element_get_static_pad(sink, "sink") {
            _ = gst_pad_link(pad, sinkPad)
            gst_object_unref(UnsafeMutableRawPointer(sinkPad))
        }
    }

    private func record(_ index: Int, pts: GstClockTime, duration: GstClockTime, bytes: Int) {
        let none = avd_gst_clock_time_none()
        lock.withLock {
            var s = streams[index]
            s.packets += 1
            s.bytes += bytes
            if pts != none {
                let p = UInt64(pts)
                s.firstPTS = min(s.firstPTS ?? p, p)
                let end = p + (duration != none ? UInt64(duration) : 0)
                s.endPTS = max(s.endPTS ?? end, end)
            }
            streams[index] = s
        }
    }
}

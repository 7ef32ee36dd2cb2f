internal import CGStreamerShims
internal import CGStreamer
internal import CGStreamerApp
import Foundation

/// A decoding/receiving pipeline built by avatard itself (never from client or operator text) whose results
/// are pulled from named appsinks. Used to read audio files, to inspect produced media and by tests to
/// receive RTP. Blocking: use it from tools, tests or a dedicated thread, never from an event loop.
final class AppSinkPipeline {
    private let pipeline: UnsafeMutablePointer<GstElement>

    /// `properties`: (element name, property, value as text) set before the pipeline starts, so values such
    /// as file paths never go through the parser's quoting.
    init(_ description: String, properties: [(element: String, property: String, value: String)] = []) throws(MediaError) {
        GStreamerRuntime.initialize()
        var error: UnsafeMutablePointer<GError>?
        let element = gst_parse_launch_full(description, nil, GST_PARSE_FLAG_FATAL_ERRORS, &error)
        if let error {
            let message = String(cString: error.pointee.message)
            g_error_free(error)
            if let element { gst_object_unref(UnsafeMutableRawPointer(element)) }
            throw .pipeline(message)
        }
        guard let element else { throw .pipeline("empty pipeline") }
        _ = gst_object_ref_sink(UnsafeMutableRawPointer(element))
        pipeline = element
        for (name, property, value) in properties {
            guard let target = gst_bin_get_by_name(Self.bin(pipeline), name) else {
                gst_object_unref(UnsafeMutableRawPointer(pipeline))
                throw .pipeline("no element named \(name)")
            }
            gst_util_set_object_arg(UnsafeMutableRawPointer(target).assumingMemoryBound(to: GObject.self), property, value)
            gst_object_unref(UnsafeMutableRawPointer(target))
        }
        if gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE {
            let reason = busError() ?? "cannot start"
            _ = gst_element_set_state(pipeline, GST_STATE_NULL)
            gst_object_unref(UnsafeMutableRawPointer(pipeline))
            throw .pipeline(reason)
        }
    }

    deinit {
        _ = gst_element_set_state(pipeline, GST_STATE_NULL)
        gst_object_unref(UnsafeMutableRawPointer(pipeline))
    }

    struct Buffer {
        var pts: UInt64?
        var duration: UInt64?
        var bytes: [UInt8]
        var caps: String
    }

    /// Pulls every buffer from the appsink `name` until EOS.
    func drain(_ name: String, timeout: Double = 60) throws(MediaError) -> [Buffer] {
        try pull(name, until: { _ in false }, timeout: timeout, stopAtTimeout: false)
    }

    /// Pulls buffers from the appsink `name` until `done` says so, EOS, or `timeout` (a live source such as
    /// udpsrc never ends by itself: then whatever arrived is returned).
    func pull(_ name: String, until done: ([Buffer]) -> Bool, timeout: Double, stopAtTimeout: Bool = true) throws(MediaError) -> [Buffer] {
        guard let element = gst_bin_get_by_name(Self.bin(pipeline), name) else {
            throw .pipeline("no appsink named \(name)")
        }
        defer { gst_object_unref(UnsafeMutableRawPointer(element)) }
        let sink = UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstAppSink.self)
        var out: [Buffer] = []
        let deadline = Date().addingTimeInterval(timeout)
        while !done(out) {
            if let error = busError() { throw .decode(error) }
            guard let sample = gst_app_sink_try_pull_sample(sink, 100_000_000) else {
                if gst_app_sink_is_eos(sink) != 0 { break }
                guard Date() < deadline else {
                    if stopAtTimeout { break }
                    throw .decode("timed out reading \(name)")
                }
                continue
            }
            defer { gst_sample_unref(sample) }
            guard let buffer = gst_sample_get_buffer(sample) else { continue }
            var caps = ""
            if let c = gst_sample_get_caps(sample), let text = gst_caps_to_string(c) {
                caps = String(cString: text)
                g_free(text)
            }
            var map = GstMapInfo()
            guard gst_buffer_map(buffer, &map, GST_MAP_READ) != 0 else { continue }
            let bytes = Array(UnsafeBufferPointer(start: map.data, count: Int(map.size)))
            gst_buffer_unmap(buffer, &map)
            let none = avd_gst_clock_time_none()
            let pts = avd_gst_buffer_get_pts(buffer)
            let duration = avd_gst_buffer_get_duration(buffer)
            out.append(Buffer(pts: pts == none ? nil : UInt64(pts), duration: duration == none ? nil : UInt64(duration),
                              bytes: bytes, caps: caps))
        }
        return out
    }

    private func busError() -> String? {
        guard let bus = gst_element_get_bus(pipeline) else { return nil }
        defer { gst_object_unref(UnsafeMutableRawPointer(bus)) }
        guard let message = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR) else { return nil }
        defer { gst_message_unref(message) }
        return BusError(message)?.message ?? "unknown error"
    }

    private static func bin(_ element: UnsafeMutablePointer<GstElement>) -> UnsafeMutablePointer<GstBin> {
        UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstBin.self)
    }
}

internal import CAvatarShims
internal import CGStreamer
internal import CGStreamerApp
import Foundation

/// A decoding pipeline built by avatard itself (never from client or operator text) whose results are
/// pulled from named appsinks. Used to read audio files and to inspect produced media.
final class AppSinkPipeline {
    private let pipeline: UnsafeMutablePointer<GstElement>

    init(_ description: String) throws(MediaError) {
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
        pipeline = element
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

    /// Pulls every buffer from the appsink `name` until EOS: (pts in ns or nil, bytes, caps string).
    func drain(_ name: String, timeout: Double = 60) throws(MediaError) -> [(pts: UInt64?, bytes: [UInt8], caps: String)] {
        guard let element = gst_bin_get_by_name(UnsafeMutableRawPointer(pipeline).assumingMemoryBound(to: GstBin.self), name) else {
            throw .pipeline("no appsink named \(name)")
        }
        defer { gst_object_unref(UnsafeMutableRawPointer(element)) }
        let sink = UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstAppSink.self)
        var out: [(UInt64?, [UInt8], String)] = []
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let error = busError() { throw .decode(error) }
            guard let sample = gst_app_sink_try_pull_sample(sink, 200_000_000) else {
                if gst_app_sink_is_eos(sink) != 0 { break }
                guard Date() < deadline else { throw .decode("timed out reading \(name)") }
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
            let pts = avd_gst_buffer_get_pts(buffer)
            out.append((pts == avd_gst_clock_time_none() ? nil : UInt64(pts), bytes, caps))
        }
        return out
    }

    private func busError() -> String? {
        guard let bus = gst_element_get_bus(pipeline) else { return nil }
        defer { gst_object_unref(UnsafeMutableRawPointer(bus)) }
        guard let message = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR) else { return nil }
        defer { gst_message_unref(message) }
        var error: UnsafeMutablePointer<GError>?
        var debug: UnsafeMutablePointer<gchar>?
        gst_message_parse_error(message, &error, &debug)
        defer {
            if let error { g_error_free(error) }
            if let debug { g_free(debug) }
        }
        return error.map { String(cString: $0.pointee.message) } ?? "unknown error"
    }

    /// A path as a quoted gst-launch property value.
    static func quote(_ path: String) -> String {
        "\"" + path.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\""
    }
}

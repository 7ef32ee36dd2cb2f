import AvatarMedia
import CGStreamer
import CGStreamerApp
import Foundation

/// A second GStreamer pipeline receiving the daemon's RTP video on loopback and counting decoded frames.
enum RTPReceiver {
    static func countFrames(port: Int, encoding: String, seconds: Double) throws -> Int {
        GStreamerRuntime.initialize()
        let depay = encoding == "VP8" ? "rtpvp8depay ! vp8dec" : "rtph264depay ! h264parse ! openh264dec"
        let caps = "application/x-rtp,media=video,clock-rate=90000,encoding-name=\(encoding),payload=\(encoding == "VP8" ? 97 : 96)"
        let description = "udpsrc port=\(port) caps=\"\(caps)\" ! \(depay) ! videoconvert ! appsink name=out sync=false"
        var error: UnsafeMutablePointer<GError>?
        guard let pipeline = gst_parse_launch(description, &error), error == nil else {
            throw MediaError.pipeline(error.map { String(cString: $0.pointee.message) } ?? "parse failed")
        }
        defer {
            _ = gst_element_set_state(pipeline, GstState(rawValue: 1))
            gst_object_unref(UnsafeMutableRawPointer(pipeline))
        }
        _ = gst_element_set_state(pipeline, GstState(rawValue: 4))
        let sinkElement = gst_bin_get_by_name(UnsafeMutableRawPointer(pipeline).assumingMemoryBound(to: GstBin.self), "out")!
        defer { gst_object_unref(UnsafeMutableRawPointer(sinkElement)) }
        let sink = UnsafeMutableRawPointer(sinkElement).assumingMemoryBound(to: GstAppSink.self)
        var frames = 0
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let sample = gst_app_sink_try_pull_sample(sink, 100_000_000) {
                frames += 1
                gst_sample_unref(sample)
            }
        }
        return frames
    }
}

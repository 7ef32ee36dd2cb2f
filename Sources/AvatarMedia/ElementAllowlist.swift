internal import CGStreamerShims
internal import CGStreamer

/// Element factories that output presets may use: encoders, parsers, payloaders, RTP plumbing, muxers,
/// queues and network/file sinks. There are no sources at all (the daemon owns the only sources, its
/// appsrc heads), and nothing that reads files, opens arbitrary fds, shares memory or hands data back to
/// the process: filesrc, fdsink, shmsink, appsink, souphttpsrc, multifilesrc, udpsrc, … are rejected.
public enum ElementAllowlist {
    public static let standard: Set<String> = [
        // queues and plumbing
        "queue", "queue2", "capsfilter", "identity", "tee", "valve",
        // raw video/audio adaptation
        "videoconvert", "videoscale", "videorate", "videoconvertscale", "audioconvert", "audioresample",
        // encoders
        "x264enc", "openh264enc", "vp8enc", "vp9enc", "nvh264enc", "nvcudah264enc", "vah264enc", "vaapih264enc",
        "x265enc", "av1enc", "opusenc",
        // parsers
        "h264parse", "h265parse", "vp8parse", "opusparse", "av1parse",
        // RTP
        "rtpbin", "rtph264pay", "rtph265pay", "rtpvp8pay", "rtpvp9pay", "rtpopuspay", "rtpsession", "rtprtxsend",
        // muxers
        "mp4mux", "qtmux", "matroskamux", "webmmux", "mpegtsmux", "splitmuxsink",
        // sinks
        "udpsink", "multiudpsink", "filesink", "fakesink", "srtsink", "tcpserversink",
    ]

    /// Checks every element of a parsed bin, recursively: each element's factory must be allowed, and so
    /// must any factory an element is told to create (string properties named `*-factory`, e.g.
    /// splitmuxsink's `muxer-factory` / `sink-factory`). Bins the description itself made with `( … )` are
    /// entered; allowed elements that are bins (rtpbin, splitmuxsink) build their own fixed internals.
    static func check(_ element: UnsafeMutablePointer<GstElement>, allowed: Set<String>) throws(OutputError) {
        var node = avd_gst_bin_children(UnsafeMutableRawPointer(element).assumingMemoryBound(to: GstBin.self))
        while let current = node {
            if let raw = current.pointee.data {
                let child = raw.assumingMemoryBound(to: GstElement.self)
                let childName = avd_gst_object_name(raw).map { String(cString: $0) } ?? "?"
                let factory = avd_gst_element_factory_name(child).map { String(cString: $0) }
                if let factory, factory != "bin" {
                    guard allowed.contains(factory) else { throw .forbiddenElement(factory: factory, element: childName) }
                    try checkFactoryProperties(child, name: childName, allowed: allowed)
                } else if avd_gst_is_bin(raw) != 0 {
                    try check(child, allowed: allowed)
                } else {
                    throw .forbiddenElement(factory: factory ?? "unknown", element: childName)
                }
            }
            node = current.pointee.next
        }
    }

    private static func checkFactoryProperties(_ element: UnsafeMutablePointer<GstElement>, name: String,
                                               allowed: Set<String>) throws(OutputError) {
        var count: guint = 0
        guard let specs = avd_g_object_list_properties(UnsafeMutableRawPointer(element), &count) else { return }
        defer { g_free(specs) }
        for i in 0..<Int(count) {
            guard let spec = specs[i], avd_g_param_spec_is_readable_string(spec) != 0,
                  let cName = g_param_spec_get_name(spec) else { continue }
            let property = String(cString: cName)
            guard property.hasSuffix("-factory") else { continue }
            guard let value = avd_g_object_get_string(UnsafeMutableRawPointer(element), cName) else { continue }
            let factory = String(cString: value)
            g_free(value)
            if !factory.isEmpty && !allowed.contains(factory) {
                throw .forbiddenElement(factory: factory, element: "\(name).\(property)")
            }
        }
    }
}

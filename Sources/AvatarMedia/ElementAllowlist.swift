/// Element factories that output presets may use: encoders, parsers, payloaders, RTP plumbing, muxers,
/// queues and network/file sinks. Anything that reads files, opens arbitrary fds or shares memory is out.
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
}

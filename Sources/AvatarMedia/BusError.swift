internal import CGStreamerShims
internal import CGStreamer

/// The text of a GStreamer ERROR or WARNING bus message (its GError message and the debug detail), parsed
/// and freed in one place for every pipeline avatard runs.
struct BusError {
    var message: String
    var debug: String

    /// nil when the message is neither an ERROR nor a WARNING.
    init?(_ message: UnsafeMutablePointer<GstMessage>) {
        let type = avd_gst_message_type(message)
        guard type == GST_MESSAGE_ERROR || type == GST_MESSAGE_WARNING else { return nil }
        var error: UnsafeMutablePointer<GError>?
        var debug: UnsafeMutablePointer<gchar>?
        if type == GST_MESSAGE_ERROR {
            gst_message_parse_error(message, &error, &debug)
        } else {
            gst_message_parse_warning(message, &error, &debug)
        }
        self.message = error.map { String(cString: $0.pointee.message) } ?? "unknown error"
        self.debug = debug.map { String(cString: $0) } ?? ""
        if let error { g_error_free(error) }
        if let debug { g_free(debug) }
    }
}

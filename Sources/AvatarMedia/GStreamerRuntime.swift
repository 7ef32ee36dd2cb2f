internal import CGStreamer
import Synchronization

/// Process-wide GStreamer initialization (idempotent, thread-safe).
public enum GStreamerRuntime {
    private static let initialized = Mutex(false)

    public static func initialize() {
        initialized.withLock { done in
            guard !done else { return }
            gst_init(nil, nil)
            done = true
        }
    }

    /// "1.22.0"
    public static var version: String {
        initialize()
        var major: guint = 0, minor: guint = 0, micro: guint = 0, nano: guint = 0
        gst_version(&major, &minor, &micro, &nano)
        return "\(major).\(minor).\(micro)"
    }

    /// Whether an element factory is installed (e.g. x264enc comes with gstreamer1.0-plugins-ugly).
    public static func hasElement(_ name: String) -> Bool {
        initialize()
        guard let factory = gst_element_factory_find(name) else { return false }
        gst_object_unref(UnsafeMutableRawPointer(factory))
        return true
    }
}

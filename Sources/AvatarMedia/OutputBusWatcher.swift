internal import CGStreamerShims
internal import CGStreamer
import Foundation
import Logging

/// Reads one output pipeline's bus on its own thread (never a NIO event loop or the Swift cooperative
/// pool): records the first ERROR and reports it, wakes `finish()` on EOS, logs warnings and redistributes
/// latency for live pipelines. Waiters block on its condition, not on the bus.
final class OutputBusWatcher: @unchecked Sendable {
    // @unchecked: the C pointers are only read by the thread and released after it ended; Swift state
    // is guarded by `condition`.
    private let bus: UnsafeMutablePointer<GstBus>
    private let pipeline: UnsafeMutablePointer<GstElement>
    private let condition = NSCondition()
    private var failure: OutputFailure?
    private var eos = false
    private var stopping = false
    private var running = false
    private let exited = DispatchSemaphore(value: 0)
    private let logger: Logger
    private let report: @Sendable (OutputFailure) -> Void
    /// Errors posted inside a WebRTC viewer's bin go here (viewer id, message) instead of failing the output.
    private var viewerErrorHandler: (@Sendable (String, String) -> Void)?

    var onViewerError: (@Sendable (String, String) -> Void)? {
        get { condition.withLock { viewerErrorHandler } }
        set { condition.withLock { viewerErrorHandler = newValue } }
    }

    init(pipeline: UnsafeMutablePointer<GstElement>, logger: Logger, report: @escaping @Sendable (OutputFailure) -> Void) {
        _ = gst_object_ref(UnsafeMutableRawPointer(pipeline))
        self.pipeline = pipeline
        self.bus = gst_element_get_bus(pipeline)
        self.logger = logger
        self.report = report
    }

    deinit {
        gst_object_unref(UnsafeMutableRawPointer(bus))
        gst_object_unref(UnsafeMutableRawPointer(pipeline))
    }

    func start(name: String) {
        condition.lock()
        running = true
        condition.unlock()
        let thread = Thread { [self] in
            let mask = GstMessageType(rawValue: GST_MESSAGE_ERROR.rawValue | GST_MESSAGE_EOS.rawValue
                | GST_MESSAGE_WARNING.rawValue | GST_MESSAGE_LATENCY.rawValue | GST_MESSAGE_APPLICATION.rawValue)
            while !isStopping {
                guard let message = gst_bus_timed_pop_filtered(bus, 100_000_000, mask) else { continue }
                handle(message)
                gst_message_unref(message)
            }
            exited.signal()
        }
        thread.name = "avatard-gst-bus-\(name.prefix(16))"
        thread.start()
    }

    /// Stops the thread and waits for it to exit (at most one bus poll, 100 ms).
    func stop() {
        condition.lock()
        let wasRunning = running
        running = false
        stopping = true
        condition.broadcast()
        condition.unlock()
        guard wasRunning else { return }
        // Wake the thread out of its bus poll at once instead of waiting for the poll to time out.
        if let structure = gst_structure_new_empty("avatard-stop"),
           let wake = gst_message_new_application(nil, structure) {
            _ = gst_bus_post(bus, wake)
        }
        exited.wait()
    }

    private var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    var currentFailure: OutputFailure? {
        condition.lock()
        defer { condition.unlock() }
        return failure
    }

    /// Waits until EOS reached the sinks, an error happened, or `deadline`. True on EOS without error.
    func waitForEOS(until deadline: Date) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !eos && failure == nil && !stopping {
            if !condition.wait(until: deadline) { break }
        }
        return eos && failure == nil
    }

    /// Waits up to `deadline` for a failure to be recorded (used right after a failed state change, whose
    /// reason arrives on the bus).
    func waitForFailure(until deadline: Date) -> OutputFailure? {
        condition.lock()
        defer { condition.unlock() }
        while failure == nil && !stopping {
            if !condition.wait(until: deadline) { break }
        }
        return failure
    }

    /// Records a failure found outside the bus (e.g. a push refused); the first one wins.
    func record(_ f: OutputFailure) {
        condition.lock()
        let first = failure == nil
        if first { failure = f }
        condition.broadcast()
        condition.unlock()
        if first { report(f) }
    }

    private func handle(_ message: UnsafeMutablePointer<GstMessage>) {
        let type = avd_gst_message_type(message)
        let source = avd_gst_message_src(message).flatMap { avd_gst_object_name(UnsafeMutableRawPointer($0)) }
            .map { String(cString: $0) } ?? "pipeline"
        if type == GST_MESSAGE_EOS {
            condition.lock()
            eos = true
            condition.broadcast()
            condition.unlock()
        } else if let parsed = BusError(message) {
            let text = parsed.message
            let detail = parsed.debug
            if type == GST_MESSAGE_ERROR, let handler = onViewerError,
               let owner = avd_gst_message_src(message).flatMap({ avd_webrtc_viewer_owner($0) }) {
                let id = String(cString: owner)
                g_free(owner)
                handler(id, "\(source): \(text)")
            } else if type == GST_MESSAGE_ERROR {
                // The first error is the cause; the ones after it are usually its echoes upstream.
                let metadata: Logger.Metadata = ["gst.element": "\(source)", "error.message": "\(text)", "gst.debug": "\(detail)"]
                if currentFailure == nil {
                    logger.error("output pipeline error", metadata: metadata)
                } else {
                    logger.debug("output pipeline error after the first", metadata: metadata)
                }
                record(OutputFailure(element: source, message: text, debug: detail))
            } else {
                logger.warning("output pipeline warning", metadata: ["gst.element": "\(source)", "gst.message": "\(text)"])
            }
        } else if type == GST_MESSAGE_LATENCY {
            // A live element changed its latency: redistribute it so sinks stay in sync.
            _ = gst_bin_recalculate_latency(UnsafeMutableRawPointer(pipeline).assumingMemoryBound(to: GstBin.self))
        }
    }
}

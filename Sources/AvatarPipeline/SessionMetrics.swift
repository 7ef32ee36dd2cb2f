import Metrics

/// Process-wide metrics (no per-session labels; session ids go to logs).
enum SessionMetrics {
    static let framesRendered = Counter(label: "avatard_frames_rendered_total")
    static let framesDroppedLate = Counter(label: "avatard_frames_dropped_total", dimensions: [("reason", "late")])
    static let framesDroppedOverload = Counter(label: "avatard_frames_dropped_total", dimensions: [("reason", "overload")])
    static let framesDroppedInterrupted = Counter(label: "avatard_frames_dropped_total", dimensions: [("reason", "interrupted")])
    static let packetsLost = Counter(label: "avatard_audio_packets_lost_total")
    static let packetsDropped = Counter(label: "avatard_audio_packets_dropped_total")
    static let decodeErrors = Counter(label: "avatard_audio_decode_errors_total")
    static let interruptions = Counter(label: "avatard_interruptions_total")
    static let silenceInserted = FloatingPointCounter(label: "avatard_audio_underrun_seconds_total")
    static let frameLatency = Metrics.Timer(label: "avatard_frame_latency_seconds")
    static let renderDuration = Metrics.Timer(label: "avatard_render_duration_seconds", dimensions: [("stage", "render")])
    static let motionDuration = Metrics.Timer(label: "avatard_motion_inference_duration_seconds")
    static let outputErrors = Counter(label: "avatard_pipeline_errors_total")
}

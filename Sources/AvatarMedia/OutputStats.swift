/// Counters and queue levels of one output pipeline (for `avatard_appsrc_queue_bytes`,
/// `avatard_frames_dropped_total{reason="queue_full"}` and the session's stats).
public struct OutputStats: Sendable, Equatable {
    public var videoFramesPushed = 0
    /// Live outputs: frames the video head dropped (oldest first) because the encoder fell behind.
    public var videoFramesDropped = 0
    public var audioPacketsPushed = 0
    public var audioPacketsDropped = 0
    /// Bytes and buffers waiting in the appsrc heads now.
    public var videoQueuedBytes: UInt64 = 0
    public var videoQueuedBuffers: UInt64 = 0
    public var audioQueuedBytes: UInt64 = 0
    /// Offline outputs: total time `pushVideo` waited for the encoder (backpressure), in nanoseconds.
    public var backpressureWaitNanos: UInt64 = 0

    public init() {}
}

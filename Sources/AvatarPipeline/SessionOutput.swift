public import AvatarFormats
public import AvatarMedia

/// Where a session's frames and audio go: a GStreamer output pipeline in the daemon, other sinks in tools
/// and tests. Used from the session's render thread only. Timestamps are nanoseconds of running time.
public protocol SessionOutput: AnyObject {
    func pushVideo(_ frame: I420Frame, pts: UInt64, duration: UInt64) throws
    /// One original Opus packet (48 kHz) of the client's audio, or a silence packet filling a gap.
    func pushAudio(_ packet: [UInt8], pts: UInt64, duration: UInt64) throws
    /// An asynchronous failure reported by the sink (e.g. disk full), checked once per frame.
    var failure: String? { get }
    /// End of stream: waits until the output is finalized (a file is playable).
    func finish() throws
}

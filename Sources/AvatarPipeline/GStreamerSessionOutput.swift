public import AvatarFormats
public import AvatarMedia

/// A session's output through a GStreamer pipeline built from its preset.
public final class GStreamerSessionOutput: SessionOutput {
    private let pipeline: OutputPipeline

    public init(pipeline: OutputPipeline) {
        self.pipeline = pipeline
    }

    /// The daemon's output factory: parses the resolved preset, checks it against `allowedElements`,
    /// links the appsrc heads and starts the pipeline.
    public static func factory(allowedElements: Set<String>, maxViewers: Int = 8) -> SessionOutputFactory {
        { plan, width, height in
            let pipeline = try OutputPipeline(description: plan.pipeline, mode: plan.mode == .live ? .live : .offline,
                                              video: VideoFormat(width: width, height: height, fps: plan.avatar.fps),
                                              name: "session-\(plan.sessionID.prefix(8))", allowedElements: allowedElements,
                                              stringBindings: plan.pipelineBindings, maxViewers: maxViewers)
            try pipeline.start()
            return GStreamerSessionOutput(pipeline: pipeline)
        }
    }

    public func pushVideo(_ frame: I420Frame, pts: UInt64, duration: UInt64) throws {
        try pipeline.pushVideo(frame, pts: pts, duration: duration)
    }

    public func pushAudio(_ packet: [UInt8], pts: UInt64, duration: UInt64) throws {
        try pipeline.pushAudio(packet, pts: pts, duration: duration)
    }

    public var failure: String? { pipeline.failure }

    /// The WebRTC viewers of a WebRTC preset (nil for other presets).
    public var webrtc: WebRTCFanout? { pipeline.webrtc }

    public func finish() throws { try pipeline.finish() }
}

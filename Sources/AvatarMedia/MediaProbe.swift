import Foundation

/// Inspects and decodes a produced media file completely through GStreamer: its elementary streams as
/// the container holds them (encoded caps, first PTS, end, packet count), the container duration, the
/// decoded video frames (luma and timestamps) and the decoded audio (16 kHz mono). Tools and tests use it
/// to check what a session actually wrote: that it decodes, its durations, the A/V start offset and which
/// audio it contains. Blocking; reads the whole file.
public struct MediaProbe: Sendable {
    public struct Frame: Sendable {
        public var pts: UInt64
        public var width: Int
        public var height: Int
        /// Luma plane (GRAY8), width×height bytes.
        public var luma: [UInt8]
    }

    /// One elementary stream as stored in the container.
    public struct Stream: Sendable, Equatable {
        /// Media type of the encoded stream, e.g. "video/x-h264", "audio/x-opus".
        public var mediaType: String
        /// Full caps, e.g. "video/x-h264, stream-format=(string)avc, width=(int)64, …".
        public var caps: String
        /// PTS of its earliest packet and end of its last (PTS + duration), nanoseconds.
        public var firstPTS: UInt64?
        public var endPTS: UInt64?
        public var packets = 0
        public var bytes = 0

        public var isVideo: Bool { mediaType.hasPrefix("video/") }
        public var isAudio: Bool { mediaType.hasPrefix("audio/") }
        /// endPTS − firstPTS in seconds.
        public var duration: Double? {
            guard let firstPTS, let endPTS, endPTS >= firstPTS else { return nil }
            return Double(endPTS - firstPTS) / 1e9
        }
    }

    public var streams: [Stream] = []
    /// Container duration (nanoseconds) as the demuxer reports it.
    public var containerDuration: UInt64?
    public var frames: [Frame] = []
    public var audio: [Float] = []
    /// PTS of the first decoded audio / video buffer (nanoseconds).
    public var firstAudioPTS: UInt64?
    public var firstVideoPTS: UInt64?
    public var videoCaps = ""

    /// - Parameters: `video` / `audio`: whether to decode those (streams are always listed).
    public init(path: String, video: Bool = true, audio: Bool = true) throws(MediaError) {
        guard FileManager.default.fileExists(atPath: path) else { throw .missingFile(path) }
        let inspected = try StreamInspector.inspect(path: path)
        streams = inspected.streams
        containerDuration = inspected.duration
        guard !streams.isEmpty else { throw .decode("\(path): no streams") }
        let location = [(element: "src", property: "location", value: path)]
        if video, streams.contains(where: \.isVideo) {
            let p = try AppSinkPipeline("filesrc name=src ! decodebin ! videoconvert ! video/x-raw,format=GRAY8 ! appsink name=v sync=false",
                                        properties: location)
            for b in try p.drain("v") {
                let (w, h) = Self.size(b.caps)
                frames.append(Frame(pts: b.pts ?? 0, width: w, height: h, luma: b.bytes))
                if firstVideoPTS == nil { firstVideoPTS = b.pts }
                videoCaps = b.caps
            }
        }
        if audio, streams.contains(where: \.isAudio) {
            let p = try AppSinkPipeline("filesrc name=src ! decodebin ! audioconvert ! audioresample ! audio/x-raw,format=F32LE,channels=1,rate=16000 ! appsink name=a sync=false",
                                        properties: location)
            for b in try p.drain("a") {
                if firstAudioPTS == nil { firstAudioPTS = b.pts }
                b.bytes.withUnsafeBytes { self.audio.append(contentsOf: $0.bindMemory(to: Float.self)) }
            }
        }
    }

    public var videoStream: Stream? { streams.first(where: \.isVideo) }
    public var audioStream: Stream? { streams.first(where: \.isAudio) }

    /// Decoded video duration: last frame PTS − first + one frame (at the frames' own spacing).
    public var videoDuration: Double {
        guard frames.count > 1 else { return 0 }
        let span = Double(frames.last!.pts - frames.first!.pts) / 1e9
        return span + span / Double(frames.count - 1)
    }

    public var audioDuration: Double { Double(audio.count) / 16000 }

    /// Start of the video stream minus start of the audio stream, in the container (seconds); nil without both.
    public var avStartOffset: Double? {
        guard let v = videoStream?.firstPTS, let a = audioStream?.firstPTS else { return nil }
        return (Double(v) - Double(a)) / 1e9
    }

    static func size(_ caps: String) -> (Int, Int) {
        func field(_ name: String) -> Int {
            guard let r = caps.range(of: "\(name)=(int)") else { return 0 }
            return Int(caps[r.upperBound...].prefix { $0.isNumber }) ?? 0
        }
        return (field("width"), field("height"))
    }
}

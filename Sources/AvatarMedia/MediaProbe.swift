import Foundation

/// Decodes a produced media file completely: its video frames (grey levels and timestamps) and its audio
/// (16 kHz mono), so tests and tools can check what a session actually wrote.
public struct MediaProbe: Sendable {
    public struct Frame: Sendable {
        public var pts: UInt64
        public var width: Int
        public var height: Int
        /// Luma plane (GRAY8).
        public var luma: [UInt8]
    }

    public var frames: [Frame] = []
    public var audio: [Float] = []
    public var firstAudioPTS: UInt64?
    public var videoCaps = ""

    /// Video frames of one stream and the mono 16 kHz audio of a file.
    public init(path: String, video: Bool = true, audio: Bool = true) throws(MediaError) {
        guard FileManager.default.fileExists(atPath: path) else { throw .missingFile(path) }
        let src = "filesrc location=\(AppSinkPipeline.quote(path))"
        if video {
            let p = try AppSinkPipeline("\(src) ! decodebin ! videoconvert ! video/x-raw,format=GRAY8 ! appsink name=v sync=false")
            for b in try p.drain("v") {
                let (w, h) = Self.size(b.caps)
                frames.append(Frame(pts: b.pts ?? 0, width: w, height: h, luma: b.bytes))
                videoCaps = b.caps
            }
        }
        if audio {
            let p = try AppSinkPipeline("\(src) ! decodebin ! audioconvert ! audioresample ! audio/x-raw,format=F32LE,channels=1,rate=16000 ! appsink name=a sync=false")
            for b in try p.drain("a") {
                if firstAudioPTS == nil { firstAudioPTS = b.pts }
                b.bytes.withUnsafeBytes { self.audio.append(contentsOf: $0.bindMemory(to: Float.self)) }
            }
        }
    }

    public var videoDuration: Double { frames.count > 1 ? Double(frames.last!.pts - frames.first!.pts) / 1e9 + 0.04 : 0 }
    public var audioDuration: Double { Double(audio.count) / 16000 }

    static func size(_ caps: String) -> (Int, Int) {
        func field(_ name: String) -> Int {
            guard let r = caps.range(of: "\(name)=(int)") else { return 0 }
            return Int(caps[r.upperBound...].prefix { $0.isNumber }) ?? 0
        }
        return (field("width"), field("height"))
    }
}

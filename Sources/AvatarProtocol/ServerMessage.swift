import Foundation

/// A text frame from the server (protocol v1).
public enum ServerMessage: Sendable, Equatable {
    public struct VideoInfo: Sendable, Equatable, Codable {
        public var width: Int
        public var height: Int
        public var fps: Int
        public init(width: Int, height: Int, fps: Int) {
            self.width = width
            self.height = height
            self.fps = fps
        }
    }

    public struct Stats: Sendable, Equatable, Codable {
        public var bufferedMs: Int
        public var framesRendered: Int
        public var framesDropped: Int
        public var packetsLost: Int
        public var latencyMsP50: Double
        public var latencyMsP95: Double
        public init(bufferedMs: Int, framesRendered: Int, framesDropped: Int, packetsLost: Int,
                    latencyMsP50: Double, latencyMsP95: Double) {
            self.bufferedMs = bufferedMs
            self.framesRendered = framesRendered
            self.framesDropped = framesDropped
            self.packetsLost = packetsLost
            self.latencyMsP50 = latencyMsP50
            self.latencyMsP95 = latencyMsP95
        }
        enum CodingKeys: String, CodingKey {
            case bufferedMs = "buffered_ms"
            case framesRendered = "frames_rendered"
            case framesDropped = "frames_dropped"
            case packetsLost = "packets_lost"
            case latencyMsP50 = "latency_ms_p50"
            case latencyMsP95 = "latency_ms_p95"
        }
    }

    public struct Ended: Sendable, Equatable, Codable {
        public var frames: Int
        public var durationMs: Int
        public var framesDropped: Int
        public var packetsLost: Int
        public init(frames: Int, durationMs: Int, framesDropped: Int, packetsLost: Int) {
            self.frames = frames
            self.durationMs = durationMs
            self.framesDropped = framesDropped
            self.packetsLost = packetsLost
        }
        enum CodingKeys: String, CodingKey {
            case frames
            case durationMs = "duration_ms"
            case framesDropped = "frames_dropped"
            case packetsLost = "packets_lost"
        }
    }

    case sessionReady(sessionID: String, video: VideoInfo, output: String, latencyMs: Int)
    case stats(Stats)
    case inputInterrupted(lastRenderedTs: UInt64)
    case sessionEnded(Ended)
    case error(code: CloseCode, message: String)

    public var type: String {
        switch self {
        case .sessionReady: "session.ready"
        case .stats: "stats"
        case .inputInterrupted: "input.interrupted"
        case .sessionEnded: "session.ended"
        case .error: "error"
        }
    }

    /// JSON text of the message.
    public func json() -> String {
        var dict: [String: Any] = ["type": type]
        switch self {
        case let .sessionReady(id, video, output, latency):
            dict["session_id"] = id
            dict["video"] = ["width": video.width, "height": video.height, "fps": video.fps]
            dict["output"] = output
            dict["latency_ms"] = latency
        case let .stats(s):
            dict["buffered_ms"] = s.bufferedMs
            dict["frames_rendered"] = s.framesRendered
            dict["frames_dropped"] = s.framesDropped
            dict["packets_lost"] = s.packetsLost
            dict["latency_ms_p50"] = s.latencyMsP50
            dict["latency_ms_p95"] = s.latencyMsP95
        case let .inputInterrupted(ts):
            dict["last_rendered_ts"] = ts
        case let .sessionEnded(e):
            dict["frames"] = e.frames
            dict["duration_ms"] = e.durationMs
            dict["frames_dropped"] = e.framesDropped
            dict["packets_lost"] = e.packetsLost
        case let .error(code, message):
            dict["code"] = code.name
            dict["message"] = message
        }
        let data = (try? JSONSerialization.data(withJSONObject: dict, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Parses a server message (used by the reference client and tests).
    public static func parse(_ text: String) -> ServerMessage? {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let type = obj["type"] as? String else { return nil }
        func int(_ k: String) -> Int { (obj[k] as? NSNumber)?.intValue ?? 0 }
        func dbl(_ k: String) -> Double { (obj[k] as? NSNumber)?.doubleValue ?? 0 }
        switch type {
        case "session.ready":
            let v = obj["video"] as? [String: Any] ?? [:]
            let video = VideoInfo(width: (v["width"] as? NSNumber)?.intValue ?? 0,
                                  height: (v["height"] as? NSNumber)?.intValue ?? 0,
                                  fps: (v["fps"] as? NSNumber)?.intValue ?? 0)
            return .sessionReady(sessionID: obj["session_id"] as? String ?? "", video: video,
                                 output: obj["output"] as? String ?? "", latencyMs: int("latency_ms"))
        case "stats":
            return .stats(Stats(bufferedMs: int("buffered_ms"), framesRendered: int("frames_rendered"),
                                framesDropped: int("frames_dropped"), packetsLost: int("packets_lost"),
                                latencyMsP50: dbl("latency_ms_p50"), latencyMsP95: dbl("latency_ms_p95")))
        case "input.interrupted":
            return .inputInterrupted(lastRenderedTs: (obj["last_rendered_ts"] as? NSNumber)?.uint64Value ?? 0)
        case "session.ended":
            return .sessionEnded(Ended(frames: int("frames"), durationMs: int("duration_ms"),
                                       framesDropped: int("frames_dropped"), packetsLost: int("packets_lost")))
        case "error":
            guard let code = CloseCode(name: obj["code"] as? String ?? "") else { return nil }
            return .error(code: code, message: obj["message"] as? String ?? "")
        default:
            return nil
        }
    }
}

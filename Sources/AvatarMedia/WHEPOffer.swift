/// The video codec a WebRTC preset encodes (what its `whep_video` tee carries).
public enum WebRTCVideoCodec: String, Sendable, CaseIterable {
    case h264 = "H264"
    case vp8 = "VP8"

    /// GStreamer payloader for one viewer's branch.
    var payloader: String {
        switch self {
        case .h264: "rtph264pay"
        case .vp8: "rtpvp8pay"
        }
    }

    /// Caps structure name of the encoded stream.
    var mediaType: String {
        switch self {
        case .h264: "video/x-h264"
        case .vp8: "video/x-vp8"
        }
    }
}

/// Why a WHEP offer cannot be answered. `malformed`: not SDP, or not a WebRTC offer avatard can take (HTTP
/// 400). `noUsableCodec`: a well-formed offer without a codec avatard can send (HTTP 406).
public enum WHEPOfferError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(String)
    case noUsableCodec(String)

    public var description: String {
        switch self {
        case .malformed(let m), .noUsableCodec(let m): m
        }
    }
}

/// A viewer's SDP offer (RFC 8866 text), checked before webrtcbin sees it: webrtcbin trusts its input in
/// places (an m-line without `a=mid` aborts the process), so everything it relies on is required here.
public struct WHEPOffer: Sendable, Equatable {
    public struct Media: Sendable, Equatable {
        public var kind: String
        public var port: Int
        public var proto: String
        public var formats: [Int]
        /// Payload type → encoding name/clock rate[/channels], e.g. "H264/90000".
        public var rtpmap: [Int: String] = [:]
        /// Payload type → fmtp parameters (keys lower-cased).
        public var fmtp: [Int: [String: String]] = [:]
        public var direction = "sendrecv"
        public var mid: String?
        public var hasICECredentials = false
        public var hasFingerprint = false

        /// Whether the viewer wants to receive this media.
        public var receives: Bool { port != 0 && (direction == "recvonly" || direction == "sendrecv") }

        /// Encoding names offered, for messages ("H264, VP8").
        public var encodings: [String] {
            var seen: [String] = []
            for pt in formats {
                if let name = rtpmap[pt]?.split(separator: "/").first.map(String.init), !seen.contains(name) { seen.append(name) }
            }
            return seen
        }
    }

    /// What avatard sends to the viewer: the payload types chosen from the offer.
    public struct Selection: Sendable, Equatable {
        public var codec: WebRTCVideoCodec
        public var videoPayloadType: Int
        /// nil: the offer has no audio m-line; the viewer gets video only.
        public var audioPayloadType: Int?
    }

    public static let maxBytes = 64 << 10
    static let maxLines = 4096

    public let text: String
    public let media: [Media]

    public static func parse(_ text: String) throws(WHEPOfferError) -> WHEPOffer {
        guard text.utf8.count <= maxBytes else { throw .malformed("the offer is larger than \(maxBytes) bytes") }
        let lines = text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
        guard lines.count <= maxLines else { throw .malformed("the offer has more than \(maxLines) lines") }
        guard lines.first == "v=0" else { throw .malformed("not an SDP offer (it must start with v=0)") }
        var sessionICE = false
        var sessionFingerprint = false
        var sawOrigin = false
        var sawName = false
        var media: [Media] = []
        for (index, raw) in lines.enumerated() {
            let line = String(raw)
            let bytes = Array(line.utf8)
            guard bytes.count >= 2, bytes[1] == UInt8(ascii: "="), (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(bytes[0]) else {
                throw .malformed("line \(index + 1) is not an SDP line (type=value)")
            }
            guard !line.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" }) else {
                throw .malformed("line \(index + 1) contains control characters")
            }
            let type = bytes[0]
            let value = String(line.dropFirst(2))
            if type == UInt8(ascii: "m") {
                guard media.count < 16 else { throw .malformed("the offer has more than 16 m-lines") }
                let parts = value.split(separator: " ")
                guard parts.count >= 4, let port = Int(parts[1].split(separator: "/")[0]), (0...65535).contains(port) else {
                    throw .malformed("m-line \(media.count) is malformed: \(LogTextShort.cut(value))")
                }
                let formats = parts[3...].compactMap { Int($0) }.filter { (0...127).contains($0) }
                media.append(Media(kind: String(parts[0]), port: port, proto: String(parts[2]), formats: formats))
                continue
            }
            if media.isEmpty {
                if type == UInt8(ascii: "o") { sawOrigin = true }
                if type == UInt8(ascii: "s") { sawName = true }
            }
            guard type == UInt8(ascii: "a") else { continue }
            let (key, attribute) = Self.attribute(value)
            switch key {
            case "ice-ufrag", "ice-pwd":
                if media.isEmpty { sessionICE = true } else { media[media.count - 1].hasICECredentials = true }
            case "fingerprint":
                if media.isEmpty { sessionFingerprint = true } else { media[media.count - 1].hasFingerprint = true }
            case "mid":
                if !media.isEmpty, let attribute, !attribute.isEmpty { media[media.count - 1].mid = attribute }
            case "sendrecv", "sendonly", "recvonly", "inactive":
                if !media.isEmpty { media[media.count - 1].direction = key }
            case "rtpmap":
                guard !media.isEmpty, let attribute else { continue }
                let parts = attribute.split(separator: " ", maxSplits: 1)
                if parts.count == 2, let pt = Int(parts[0]) { media[media.count - 1].rtpmap[pt] = String(parts[1]) }
            case "fmtp":
                guard !media.isEmpty, let attribute else { continue }
                let parts = attribute.split(separator: " ", maxSplits: 1)
                guard parts.count == 2, let pt = Int(parts[0]) else { continue }
                var params: [String: String] = [:]
                for item in parts[1].split(separator: ";") {
                    let kv = item.split(separator: "=", maxSplits: 1)
                    guard kv.count == 2 else { continue }
                    params[kv[0].trimmingCharacters(in: .whitespaces).lowercased()] = kv[1].trimmingCharacters(in: .whitespaces)
                }
                media[media.count - 1].fmtp[pt] = params
            default:
                break
            }
        }
        guard sawOrigin, sawName else { throw .malformed("not an SDP offer (o= and s= lines are required)") }
        guard !media.isEmpty else { throw .malformed("the offer has no m-lines") }
        var kinds: [String: Int] = [:]
        for (i, m) in media.enumerated() {
            guard m.kind == "audio" || m.kind == "video" else {
                throw .malformed("m-line \(i) is '\(LogTextShort.cut(m.kind))': only audio and video m-lines are supported")
            }
            kinds[m.kind, default: 0] += 1
            guard m.port != 0 else { continue }
            guard m.proto.uppercased().hasSuffix("SAVPF") else {
                throw .malformed("m-line \(i) uses '\(LogTextShort.cut(m.proto))': WebRTC needs UDP/TLS/RTP/SAVPF")
            }
            guard m.mid != nil else { throw .malformed("m-line \(i) has no a=mid") }
            guard m.hasICECredentials || sessionICE else { throw .malformed("m-line \(i) has no ICE credentials (a=ice-ufrag, a=ice-pwd)") }
            guard m.hasFingerprint || sessionFingerprint else { throw .malformed("m-line \(i) has no DTLS fingerprint (a=fingerprint)") }
        }
        guard kinds["video", default: 0] <= 1, kinds["audio", default: 0] <= 1 else {
            throw .malformed("the offer may have one video and one audio m-line")
        }
        return WHEPOffer(text: text, media: media)
    }

    private static func attribute(_ value: String) -> (String, String?) {
        guard let colon = value.firstIndex(of: ":") else { return (value.lowercased(), nil) }
        return (value[..<colon].lowercased(), String(value[value.index(after: colon)...]))
    }

    /// The payload types to send `codec` and Opus with. H.264 needs packetization-mode 1; the constrained
    /// baseline profile is preferred (what the presets encode), then baseline, then any other profile.
    public func select(_ codec: WebRTCVideoCodec) throws(WHEPOfferError) -> Selection {
        guard let video = media.first(where: { $0.kind == "video" && $0.port != 0 }) else {
            throw .noUsableCodec("the offer has no video m-line")
        }
        guard video.receives else { throw .noUsableCodec("the offer's video m-line does not receive (\(video.direction))") }
        func encoding(_ pt: Int, in m: Media) -> (name: String, clock: String, channels: String?)? {
            guard let map = m.rtpmap[pt] else { return nil }
            let parts = map.split(separator: "/").map(String.init)
            guard parts.count >= 2 else { return nil }
            return (parts[0].uppercased(), parts[1], parts.count > 2 ? parts[2] : nil)
        }
        var candidates: [(rank: Int, pt: Int)] = []
        for pt in video.formats {
            guard let e = encoding(pt, in: video), e.name == codec.rawValue, e.clock == "90000" else { continue }
            switch codec {
            case .h264:
                let params = video.fmtp[pt] ?? [:]
                guard params["packetization-mode"] == "1" else { continue }
                let profile = (params["profile-level-id"] ?? "").lowercased()
                candidates.append((profile.hasPrefix("42e0") ? 0 : profile.hasPrefix("42") ? 1 : 2, pt))
            case .vp8:
                candidates.append((0, pt))
            }
        }
        guard let best = candidates.min(by: { $0.rank < $1.rank }) else {
            let offered = video.encodings.joined(separator: ", ")
            let need = codec == .h264 ? "H.264 with packetization-mode=1" : "VP8"
            throw .noUsableCodec("this session sends \(need); the offer's video m-line has \(offered.isEmpty ? "no codecs" : LogTextShort.cut(offered))")
        }
        var audioPT: Int?
        if let audio = media.first(where: { $0.kind == "audio" && $0.port != 0 }), audio.receives {
            audioPT = audio.formats.first { pt in
                guard let e = encoding(pt, in: audio) else { return false }
                return e.name == "OPUS" && e.clock == "48000"
            }
            guard audioPT != nil else {
                throw .noUsableCodec("the session's audio is Opus; the offer's audio m-line has \(LogTextShort.cut(audio.encodings.joined(separator: ", ")))")
            }
        }
        return Selection(codec: codec, videoPayloadType: best.pt, audioPayloadType: audioPT)
    }
}

/// Client text in error messages: cut, with control characters already refused by the parser.
enum LogTextShort {
    static func cut(_ s: String) -> String { s.count > 80 ? String(s.prefix(80)) + "…" : s }
}

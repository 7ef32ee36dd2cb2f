import AvatarMedia
import Foundation
import Logging
import Metrics
import Synchronization

/// WHEP on the public listener: the WebRTC fanouts of running sessions (registered when their output starts)
/// and the viewers attached to them. Negotiation and teardown block on GStreamer, so they run on threads of
/// their own, never on the event loops or the cooperative pool.
public final class WHEPService: Sendable {
    private final class WeakFanout: @unchecked Sendable {
        // @unchecked: written once at creation; the fanout is thread-safe.
        weak var fanout: WebRTCFanout?
        let output: String
        init(_ fanout: WebRTCFanout, output: String) {
            self.fanout = fanout
            self.output = output
        }
    }

    /// An HTTP outcome of a WHEP request.
    public struct Reply: Error, Sendable, Equatable {
        public var status: Int
        public var body: String
        /// Viewer id of a created resource.
        public var viewerID: String?
    }

    private let sessions = Mutex<[String: WeakFanout]>([:])
    /// Sessions that ended (their ids answer "finished" rather than "unknown" for a while).
    private let finished = Mutex<[String]>([])
    private let logger: Logger
    /// How long a viewer may take from its answer to a connected peer connection before it is removed.
    public let connectTimeout: Duration
    private static let viewersGauge = Gauge(label: "avatard_webrtc_viewers")
    private static let requests = (
        created: Counter(label: "avatard_whep_requests_total", dimensions: [("result", "created")]),
        refused: Counter(label: "avatard_whep_requests_total", dimensions: [("result", "refused")]),
        failed: Counter(label: "avatard_whep_requests_total", dimensions: [("result", "failed")]))

    public init(logger: Logger, connectTimeout: Duration = .seconds(20)) {
        self.logger = logger
        self.connectTimeout = connectTimeout
        Self.viewersGauge.record(0)
    }

    /// A session's WebRTC output has started.
    public func register(sessionID: String, output: String, fanout: WebRTCFanout) {
        sessions.withLock { $0[sessionID] = WeakFanout(fanout, output: output) }
    }

    /// The live fanout of a session, or the reason there is none (HTTP 404).
    private func fanout(_ sessionID: String) -> Result<WebRTCFanout, Reply> {
        if let entry = sessions.withLock({ $0[sessionID] }) {
            if let f = entry.fanout { return .success(f) }
            return .failure(Reply(status: 404, body: "session \(sessionID) has finished\n"))
        }
        if finished.withLock({ $0.contains(sessionID) }) {
            return .failure(Reply(status: 404, body: "session \(sessionID) has finished\n"))
        }
        return .failure(Reply(status: 404, body: "no WebRTC session \(Self.short(sessionID)) on this daemon (a session shows here once it started with a WebRTC output such as 'webrtc')\n"))
    }

    /// POST /v1/sessions/{id}/whep with an SDP offer.
    public func offer(sessionID: String, sdp: String) async -> Reply {
        let fanout: WebRTCFanout
        switch self.fanout(sessionID) {
        case .success(let f): fanout = f
        case .failure(let reply):
            Self.requests.refused.increment()
            return reply
        }
        let result = await Self.offThread { () -> Result<WebRTCFanout.Viewer, WebRTCFanout.AttachError> in
            do throws(WebRTCFanout.AttachError) { return .success(try fanout.attach(offer: sdp)) } catch { return .failure(error) }
        }
        switch result {
        case .success(let viewer):
            Self.requests.created.increment()
            recordViewers()
            return Reply(status: 201, body: viewer.answer, viewerID: viewer.id)
        case .failure(let error):
            let status: Int
            switch error {
            case .offer(.malformed): status = 400
            case .offer(.noUsableCodec): status = 406
            case .full: status = 503
            case .closed: status = 404
            case .negotiation(let m): status = m.contains("timed out") || m.contains("in time") ? 503 : 400
            }
            if status >= 500 { Self.requests.failed.increment() } else { Self.requests.refused.increment() }
            logger.info("whep offer refused", metadata: ["session.id": "\(sessionID)", "http.status": "\(status)",
                                                          "error.message": "\(error.description)"])
            return Reply(status: status, body: error.description + "\n")
        }
    }

    /// DELETE /v1/sessions/{id}/whep/{viewer}.
    public func delete(sessionID: String, viewerID: String) async -> Reply {
        let fanout: WebRTCFanout
        switch self.fanout(sessionID) {
        case .success(let f): fanout = f
        case .failure(let reply): return reply
        }
        let removed = await Self.offThread { fanout.detach(viewerID) }
        recordViewers()
        return removed ? Reply(status: 200, body: "") : Reply(status: 404, body: "no viewer \(Self.short(viewerID)) in this session\n")
    }

    /// Removes viewers whose connection failed or never came up, and forgets ended sessions.
    public func sweep() async {
        let entries = sessions.withLock { $0 }
        var ended: [String] = []
        for (id, entry) in entries {
            guard let fanout = entry.fanout else {
                ended.append(id)
                continue
            }
            let dead = fanout.deadViewers(connectTimeout: connectTimeout)
            if !dead.isEmpty {
                await Self.offThread { for v in dead { fanout.detach(v, reason: "connection failed or never connected") } }
            }
        }
        if !ended.isEmpty {
            sessions.withLock { s in for id in ended { s[id] = nil } }
            finished.withLock { f in
                f.append(contentsOf: ended)
                if f.count > 1024 { f.removeFirst(f.count - 1024) }
            }
        }
        recordViewers()
    }

    public var viewerCount: Int {
        sessions.withLock { $0.values.compactMap(\.fanout) }.reduce(0) { $0 + $1.viewerCount }
    }

    private func recordViewers() { Self.viewersGauge.record(viewerCount) }

    private static func short(_ s: String) -> String {
        let clean = String(s.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7f }.map(Character.init))
        return clean.count > 64 ? String(clean.prefix(64)) + "…" : clean
    }

    /// Runs blocking GStreamer work on a thread of its own.
    static func offThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: body()) }
            thread.name = "avatard-whep"
            thread.start()
        }
    }
}

internal import CGStreamerShims
internal import CGStreamer
import Foundation
import Logging
import Synchronization

/// The WebRTC viewers of one output pipeline (WHEP). A WebRTC preset ends its branches in two tees,
/// `whep_video` (the encoded video: H.264 byte-stream or VP8) and `whep_audio` (the client's Opus); each viewer is
/// a bin with a queue, a payloader (the payload types its offer chose) and a webrtcbin, fed by a request pad of
/// each tee. The encoder runs once per session whatever the number of viewers.
///
/// A viewer that joins asks the encoder for a key frame (again when its connection is up, and webrtcbin
/// turns the viewer's PLI/FIR into the same request), so it sees the current picture at once. Its elements
/// live in a bin named `avd-viewer-<id>`: errors they post end that viewer, never the session.
///
/// `attach` and `detach` block (webrtcbin negotiates on its own thread and ICE gathering takes a moment):
/// call them from a thread of your own, not from an event loop or the Swift cooperative pool.
public final class WebRTCFanout: @unchecked Sendable {
    // @unchecked: the C pointers are immutable and GStreamer's calls used are thread-safe; the viewer table
    // is behind `state`.
    public enum ConnectionState: Int32, Sendable {
        case new = 0, connecting, connected, disconnected, failed, closed
    }

    /// One viewer as the caller sees it.
    public struct Viewer: Sendable {
        public let id: String
        public let answer: String
        public let selection: WHEPOffer.Selection
    }

    public enum AttachError: Error, Sendable, Equatable, CustomStringConvertible {
        case offer(WHEPOfferError)
        /// `maxViewers` are attached already.
        case full(Int)
        /// The output has finished (the session ended).
        case closed
        /// webrtcbin could not answer (timeout, negotiation failure).
        case negotiation(String)

        public var description: String {
            switch self {
            case .offer(let e): e.description
            case .full(let n): "this session has its maximum of \(n) viewers"
            case .closed: "the session's output has finished"
            case .negotiation(let m): "WebRTC negotiation failed: \(m)"
            }
        }
    }

    private final class Handle: @unchecked Sendable {
        // @unchecked: destroyed once, under the fanout's lock discipline (removed from the table first).
        let pointer: OpaquePointer
        let created = ContinuousClock.now
        init(_ pointer: OpaquePointer) { self.pointer = pointer }
    }

    private struct State {
        var viewers: [String: Handle] = [:]
        /// Attaches in progress (count against `maxViewers`).
        var pending = 0
        var closed = false
        var nextID: UInt64 = 0
    }

    public let maxViewers: Int
    /// Held so the pipeline (and the tees' bin) outlives every viewer bin in it.
    private let pipeline: UnsafeMutablePointer<GstElement>
    private let videoTee: UnsafeMutablePointer<GstElement>
    private let audioTee: UnsafeMutablePointer<GstElement>?
    private let state = Mutex(State())
    /// Serializes GStreamer work on the viewer bins (attach, detach, close).
    private let work = NSLock()
    private let logger: Logger

    /// The fanout of `pipeline` if its preset has a `whep_video` tee, else nil.
    static func find(in pipeline: UnsafeMutablePointer<GstElement>, maxViewers: Int, logger: Logger) -> WebRTCFanout? {
        let bin = UnsafeMutableRawPointer(pipeline).assumingMemoryBound(to: GstBin.self)
        guard let video = gst_bin_get_by_name(bin, "whep_video") else { return nil }
        let audio = gst_bin_get_by_name(bin, "whep_audio")
        return WebRTCFanout(pipeline: pipeline, videoTee: video, audioTee: audio, maxViewers: maxViewers, logger: logger)
    }

    private init(pipeline: UnsafeMutablePointer<GstElement>, videoTee: UnsafeMutablePointer<GstElement>,
                 audioTee: UnsafeMutablePointer<GstElement>?, maxViewers: Int, logger: Logger) {
        _ = gst_object_ref(UnsafeMutableRawPointer(pipeline))
        self.pipeline = pipeline
        self.videoTee = videoTee
        self.audioTee = audioTee
        self.maxViewers = maxViewers
        self.logger = logger
    }

    deinit {
        for handle in state.withLock({ $0.viewers.values }) { avd_webrtc_viewer_destroy(handle.pointer) }
        gst_object_unref(UnsafeMutableRawPointer(videoTee))
        if let audioTee { gst_object_unref(UnsafeMutableRawPointer(audioTee)) }
        gst_object_unref(UnsafeMutableRawPointer(pipeline))
    }

    /// The codec the preset encodes, from the caps on the video tee (nil: neither H.264 nor VP8).
    public var videoCodec: WebRTCVideoCodec? {
        guard let pad = gst_element_get_static_pad(videoTee, "sink") else { return nil }
        defer { gst_object_unref(UnsafeMutableRawPointer(pad)) }
        // Before the first frame the tee has no caps yet: ask upstream (the parser or encoder) what it produces.
        let caps = gst_pad_get_current_caps(pad) ?? gst_pad_peer_query_caps(pad, nil)
        guard let caps else { return nil }
        defer { gst_caps_unref(caps) }
        guard gst_caps_get_size(caps) > 0, let structure = gst_caps_get_structure(caps, 0),
              let name = gst_structure_get_name(structure).map({ String(cString: $0) }) else { return nil }
        return WebRTCVideoCodec.allCases.first { $0.mediaType == name }
    }

    public var viewerCount: Int { state.withLock { $0.viewers.count } }
    public var viewerIDs: [String] { state.withLock { Array($0.viewers.keys) } }

    /// Adds a viewer for `offer` (SDP text) and returns its id and the SDP answer, with every ICE candidate
    /// (no trickle). Blocks for the negotiation, at most `timeout`.
    public func attach(offer text: String, timeout: Duration = .seconds(5)) throws(AttachError) -> Viewer {
        guard !state.withLock({ $0.closed }) else { throw .closed }
        let offer: WHEPOffer
        let selection: WHEPOffer.Selection
        do throws(WHEPOfferError) {
            offer = try WHEPOffer.parse(text)
            guard let codec = videoCodec else { throw WHEPOfferError.noUsableCodec("the session's video is neither H.264 nor VP8") }
            selection = try offer.select(codec)
        } catch {
            throw .offer(error)
        }
        let reserved: Result<String, AttachError> = state.withLock { s in
            if s.closed { return .failure(.closed) }
            guard s.viewers.count + s.pending < maxViewers else { return .failure(.full(maxViewers)) }
            s.pending += 1
            s.nextID += 1
            let random = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            return .success("\(s.nextID)-\(random)")
        }
        let id = try reserved.get()
        var answer: UnsafeMutablePointer<gchar>?
        var error: UnsafeMutablePointer<gchar>?
        let milliseconds = UInt32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let viewer: OpaquePointer? = work.withLock {
            guard !state.withLock({ $0.closed }) else { return nil }
            return id.withCString { cID in
                offer.text.withCString { cOffer in
                    selection.codec.payloader.withCString { cPayloader in
                        selection.codec.rawValue.withCString { cEncoding in
                            var request = AvdWebRTCViewerRequest(
                                id: cID, offer: cOffer, video_payloader: cPayloader, video_encoding: cEncoding,
                                video_pt: gint(selection.videoPayloadType), audio_pt: gint(selection.audioPayloadType ?? -1),
                                timeout_ms: guint(milliseconds))
                            return avd_webrtc_viewer_create(videoTee, audioTee, &request, &answer, &error)
                        }
                    }
                }
            }
        }
        let message = error.map { String(cString: $0) }
        let answerText = answer.map { String(cString: $0) }
        g_free(error)
        g_free(answer)
        let added: Bool = state.withLock { s in
            s.pending -= 1
            guard let viewer, !s.closed else { return false }
            s.viewers[id] = Handle(viewer)
            return true
        }
        guard added, let answerText else {
            if let viewer { work.withLock { avd_webrtc_viewer_destroy(viewer) } }
            if viewer != nil || state.withLock({ $0.closed }) { throw .closed }
            throw .negotiation(message ?? "unknown failure")
        }
        logger.info("webrtc viewer joined", metadata: ["viewer.id": "\(id)", "viewer.codec": "\(selection.codec.rawValue)",
                                                       "viewers": "\(viewerCount)"])
        return Viewer(id: id, answer: answerText, selection: selection)
    }

    /// Removes a viewer (its WHEP resource was deleted, or its connection failed). False if it is unknown.
    @discardableResult
    public func detach(_ id: String, reason: String = "deleted") -> Bool {
        guard let handle = state.withLock({ $0.viewers.removeValue(forKey: id) }) else { return false }
        work.withLock { avd_webrtc_viewer_destroy(handle.pointer) }
        logger.info("webrtc viewer left", metadata: ["viewer.id": "\(id)", "reason": "\(reason)", "viewers": "\(viewerCount)"])
        return true
    }

    /// The viewer's peer connection state, nil if it is unknown.
    public func connectionState(_ id: String) -> ConnectionState? {
        guard let handle = state.withLock({ $0.viewers[id] }) else { return nil }
        return ConnectionState(rawValue: avd_webrtc_viewer_connection_state(handle.pointer)) ?? .closed
    }

    /// Viewers whose connection failed or closed, that did not connect within `connectTimeout`, or that sent
    /// nothing (no RTCP receiver report, no DTLS) for `silenceTimeout`: a browser that vanished without a
    /// DELETE leaves a connection webrtcbin still calls connected.
    public func deadViewers(connectTimeout: Duration, silenceTimeout: Duration = .seconds(15)) -> [String] {
        let handles = state.withLock { Array($0.viewers) }
        let now = ContinuousClock.now
        let silenceMs = silenceTimeout.components.seconds * 1000 + silenceTimeout.components.attoseconds / 1_000_000_000_000_000
        return handles.compactMap { id, handle in
            let s = ConnectionState(rawValue: avd_webrtc_viewer_connection_state(handle.pointer)) ?? .closed
            switch s {
            case .failed, .closed: return id
            case .new, .connecting: return now - handle.created > connectTimeout ? id : nil
            case .connected, .disconnected: return avd_webrtc_viewer_quiet_ms(handle.pointer) > silenceMs ? id : nil
            }
        }
    }

    /// Removes every viewer and refuses new ones (the output is ending).
    public func close() {
        let handles = state.withLock { s -> [Handle] in
            s.closed = true
            let all = Array(s.viewers.values)
            s.viewers.removeAll()
            return all
        }
        guard !handles.isEmpty else { return }
        work.withLock { for handle in handles { avd_webrtc_viewer_destroy(handle.pointer) } }
        logger.debug("webrtc viewers closed", metadata: ["viewers": "\(handles.count)"])
    }

    /// Called by the bus watcher for an error posted inside a viewer's bin.
    func viewerFailed(_ id: String, message: String) {
        logger.warning("webrtc viewer error", metadata: ["viewer.id": "\(id)", "error.message": "\(message)"])
        // Not on the bus thread: destroying the bin changes states, which posts messages.
        Thread.detachNewThread { [weak self] in self?.detach(id, reason: "error") }
    }
}

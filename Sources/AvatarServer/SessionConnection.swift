import AvatarConfig
import AvatarPipeline
import AvatarProtocol
import Foundation
import Logging
import Metrics
import NIOCore
import NIOWebSocket
import Synchronization
import WSCore

/// One WebSocket connection speaking protocol v1: parses control and audio frames, runs at most one
/// session, forwards the session's events, enforces limits and the idle timeout, and makes sure every
/// close except 1000/1001 is preceded by an `error` message.
struct SessionConnection {
    let planner: SessionPlanner
    let registry: SessionRegistry
    let makeOutput: SessionOutputFactory
    let idleTimeout: Duration
    /// How long the final `error` + close frame may take to write before the connection is aborted (a
    /// client that stops reading must not hold its session).
    var closeWriteTimeout: Duration = .seconds(5)
    let logger: Logger
    let onMotion: (@Sendable (String, MotionFrameRecord) -> Void)?

    private static let messagesReceived = (
        audio: Counter(label: "avatard_ws_messages_received_total", dimensions: [("kind", "audio")]),
        control: Counter(label: "avatard_ws_messages_received_total", dimensions: [("kind", "control")]))
    private static let bytesReceived = (
        audio: Counter(label: "avatard_ws_bytes_received_total", dimensions: [("kind", "audio")]),
        control: Counter(label: "avatard_ws_bytes_received_total", dimensions: [("kind", "control")]))
    private static let sessionsOK = Counter(label: "avatard_sessions_total", dimensions: [("result", "ok")])
    private static let sessionsError = Counter(label: "avatard_sessions_total", dimensions: [("result", "error")])
    private static let sessionsRejected = Counter(label: "avatard_sessions_total", dimensions: [("result", "rejected")])
    private static let violationLogLimiter = LogRateLimiter(interval: .milliseconds(100))

    /// Shared between the reading loop, the event forwarder and the idle timer.
    final class Shared: Sendable {
        struct State {
            var closed = false
            /// Set by `session.close`: the client waits for the drain, so the idle timeout no longer applies.
            var draining = false
            var lastActivity = ContinuousClock.now
            var session: Session?
        }
        let state = Mutex(State())
        let outbound: WebSocketOutboundWriter
        /// Closes the TCP connection at once, whatever is queued.
        let abortConnection: @Sendable () -> Void
        let closeWriteTimeout: Duration
        init(outbound: WebSocketOutboundWriter, closeWriteTimeout: Duration, abortConnection: @escaping @Sendable () -> Void) {
            self.outbound = outbound
            self.closeWriteTimeout = closeWriteTimeout
            self.abortConnection = abortConnection
        }

        func touch() { state.withLock { $0.lastActivity = .now } }

        /// Sends `error` (unless 1000/1001) and the close frame, once.
        func close(_ code: CloseCode, message: String) async {
            let first = state.withLock { s -> Bool in
                if s.closed { return false }
                s.closed = true
                return true
            }
            guard first else { return }
            // A client that stops reading blocks these writes on a full socket: abort it after a while.
            let watchdog = Task { [closeWriteTimeout, abortConnection] in
                try await Task.sleep(for: closeWriteTimeout)
                abortConnection()
            }
            defer { watchdog.cancel() }
            if code.needsErrorMessage {
                try? await outbound.writeTextMessage(ServerMessage.error(code: code, message: message).json())
            }
            let wsCode: WebSocketErrorCode = switch code {
            case .normal: .normalClosure
            case .goingAway: .goingAway
            case .policy: .policyViolation
            case .tooBig: .messageTooLarge
            case .internal: .unexpectedServerError
            default: .unknown(code.rawValue)
            }
            try? await outbound.close(wsCode, reason: code == .normal || code == .goingAway ? nil : String(message.prefix(100)))
        }

        func send(_ message: ServerMessage) async {
            guard !state.withLock({ $0.closed }) else { return }
            try? await outbound.writeTextMessage(message.json())
        }
    }

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter,
             abortConnection: @escaping @Sendable () -> Void) async {
        let shared = Shared(outbound: outbound, closeWriteTimeout: closeWriteTimeout, abortConnection: abortConnection)
        await withTaskGroup(of: Void.self) { group in
            // Idle timer: no message for idle_timeout_seconds ends the session (4003).
            group.addTask {
                while !Task.isCancelled {
                    let (last, closed, draining) = shared.state.withLock { ($0.lastActivity, $0.closed, $0.draining) }
                    if closed || draining { return }
                    let due = last + idleTimeout
                    if ContinuousClock.now >= due {
                        logger.info("idle timeout")
                        // The session first: the close below may wait on a client that stopped reading.
                        shared.state.withLock { $0.session }?.send(.abort(goingAway: false))
                        await shared.close(.idleTimeout, message: "no message for \(idleTimeout)")
                        return
                    }
                    try? await Task.sleep(until: due, clock: .continuous)
                }
            }
            await readLoop(inbound: inbound, shared: shared, group: &group)
            // The client is gone or the connection is closing: finalize the session's output.
            shared.state.withLock { $0.session }?.send(.abort(goingAway: false))
            let hasSession = shared.state.withLock { $0.session != nil }
            if !hasSession { group.cancelAll() }
            // Wait for the forwarder (ends after the session's last event), then stop the timer.
            while let _ = await group.next() {
                group.cancelAll()
            }
        }
    }

    private func readLoop(inbound: WebSocketInboundStream, shared: Shared, group: inout TaskGroup<Void>) async {
        var iterator = inbound.makeAsyncIterator()
        while true {
            let message: WebSocketMessage?
            do {
                message = try await iterator.nextMessage(maxSize: SessionWebSocketChannel.maxFrameSize)
            } catch {
                // WSCore's errors are not public; its description names the WebSocket close code.
                if "\(error)".contains("dataInconsistentWithMessage") {
                    await shared.close(.protocol, message: "text message is not valid UTF-8")
                } else if "\(error)".contains("messageTooLarge") {
                    await shared.close(.tooBig, message: "message exceeds \(SessionWebSocketChannel.maxFrameSize) bytes")
                } else {
                    await shared.close(.protocol, message: "invalid WebSocket framing")
                }
                return
            }
            guard let message else { return }
            // Once closing, the close handshake is left to the WebSocket handler.
            if shared.state.withLock({ $0.closed }) { return }
            shared.touch()
            do {
                switch message {
                case .text(let text):
                    Self.messagesReceived.control.increment()
                    Self.bytesReceived.control.increment(by: Int64(text.utf8.count))
                    try await handleText(text, shared: shared, group: &group)
                case .binary(var buffer):
                    Self.messagesReceived.audio.increment()
                    Self.bytesReceived.audio.increment(by: Int64(buffer.readableBytes))
                    let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
                    try await handleBinary(bytes, shared: shared)
                }
            } catch let violation as ProtocolViolation {
                // A flood of bad clients costs at most ten lines a second (with the number held back).
                if let suppressed = Self.violationLogLimiter.allow() {
                    logger.info("protocol violation", metadata: ["error.code": "\(violation.code.name)",
                                                                "error.message": "\(LogText.escaped(violation.message))",
                                                                "suppressed": "\(suppressed)"])
                }
                if shared.state.withLock({ $0.session == nil }) {
                    Self.sessionsRejected.increment()
                }
                await shared.close(violation.code, message: violation.message)
                shared.state.withLock { $0.session }?.send(.abort(goingAway: false))
            } catch {
                await shared.close(.internal, message: "internal error")
            }
        }
    }

    private func handleText(_ text: String, shared: Shared, group: inout TaskGroup<Void>) async throws {
        let message = try ClientMessage.parse(text)
        let session = shared.state.withLock { $0.session }
        switch message {
        case .sessionStart(let start):
            guard session == nil else { throw ProtocolViolation.protocolError("a second session.start on the same connection") }
            let id = UUID().uuidString.lowercased()
            let plan = try planner.plan(start, sessionID: id)
            var sessionLogger = logger
            sessionLogger[metadataKey: "session.id"] = "\(id)"
            let observer = onMotion.map { observe in { @Sendable (frame: MotionFrameRecord) in observe(id, frame) } }
            guard !registry.isDraining else { throw ProtocolViolation(.goingAway, "daemon is shutting down") }
            // The slot is taken before the render thread exists, and held until that thread has returned.
            let reservation: SessionRegistry.Reservation
            do {
                reservation = try registry.reserve(avatar: plan.avatar.name)
            } catch .draining {
                throw ProtocolViolation(.goingAway, "daemon is shutting down")
            } catch {
                throw ProtocolViolation(.capacity, error.description)
            }
            let newSession = Session(plan: plan, makeOutput: makeOutput, logger: sessionLogger, onMotion: observer)
            registry.add(newSession, reservation)
            shared.state.withLock { $0.session = newSession }
            registry.forwarderStarted()
            group.addTask { [registry, logger] in
                await Self.forward(newSession, shared: shared, registry: registry, logger: logger)
                registry.forwarderFinished()
            }
        case .inputEnd:
            guard let session else { throw ProtocolViolation.protocolError("input.end before session.start") }
            session.send(.end)
        case .inputInterrupt:
            guard let session else { throw ProtocolViolation.protocolError("input.interrupt before session.start") }
            session.send(.interrupt)
        case .keepalive:
            break
        case .sessionClose:
            guard let session else {
                // Nothing to drain: close normally.
                await shared.close(.normal, message: "")
                return
            }
            shared.state.withLock { $0.draining = true }
            session.send(.close)
        }
    }

    private func handleBinary(_ bytes: [UInt8], shared: Shared) async throws {
        guard let session = shared.state.withLock({ $0.session }) else {
            throw ProtocolViolation.protocolError("binary frame before session.start")
        }
        let (header, payload) = try AudioPacketHeader.parse(bytes)
        session.audio(seq: header.seq, ts: header.ts, payload: payload)
        // Over max_buffer_seconds: stop reading here; TCP backpressure reaches the client.
        await session.waitForSpace()
    }

    /// The protocol's close code for a session failure (the pipeline's error, mapped at the server boundary).
    static func closeCode(for failure: SessionFailure) -> CloseCode {
        switch failure.kind {
        case .output: .outputFailed
        case .unsupported: .unsupported
        case .internal: .internal
        }
    }

    /// Forwards a session's events to the client until the session finishes.
    private static func forward(_ session: Session, shared: Shared, registry: SessionRegistry, logger: Logger) async {
        var failed = false
        var ended = false
        for await event in session.events {
            switch event {
            case let .ready(video, latency):
                await shared.send(.sessionReady(sessionID: session.plan.sessionID, video: video,
                                                output: session.plan.preset.name, latencyMs: latency))
            case .stats(let stats):
                await shared.send(.stats(stats))
            case .interrupted(let ts):
                await shared.send(.inputInterrupted(lastRenderedTs: ts))
            case .ended(let ended_):
                ended = true
                await shared.send(.sessionEnded(ended_))
                await shared.close(.normal, message: "")
            case .failed(let failure):
                failed = true
                await shared.close(Self.closeCode(for: failure), message: failure.message)
            case .finished(let goingAway):
                if goingAway { await shared.close(.goingAway, message: "daemon shutting down") }
            }
        }
        if failed { sessionsError.increment() } else { sessionsOK.increment() }
        logger.debug("session finished", metadata: ["ended": "\(ended)"])
        // The session is over; end the connection if the client has not.
        await shared.close(.normal, message: "")
    }
}

import HummingbirdCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOWebSocket
@_spi(WSInternal) import WSCore

/// The public listener's child channel: HTTP/1.1 that upgrades `GET /v1/session` to WebSocket.
///
/// Hummingbird's stock WebSocket channel answers every refused upgrade with 400; protocol v1 needs 401 for
/// a missing or wrong token and 400 for a bad subprotocol, so this channel keeps the refusal's status and
/// writes it itself. Plain HTTP requests (the page, `/v1/avatars`, WHEP) are read in full and answered by
/// `http`, one request per connection.
struct SessionWebSocketChannel: ServerChildChannel {
    typealias Handler = @Sendable (WebSocketInboundStream, WebSocketOutboundWriter, SessionSocketContext) async throws -> Void

    enum UpgradeResult: Sendable {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, HTTPRequestHead)
        case refused(NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, HTTPResponseStatus, String)
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
        /// Cancels the header timeout once a plain request's body has been read.
        let requestRead: @Sendable () -> Void
    }

    /// Largest WebSocket frame accepted by the frame decoder; protocol limits (4 KiB binary, 64 KiB text)
    /// are enforced by the session handler so that it can send the spec's `error` first.
    static let maxFrameSize = 1 << 20
    static let sendBufferBytes: SocketOptionValue = 64 << 10
    /// How long a WebSocket close handshake may take before the connection is dropped.
    static let closeTimeout: TimeAmount = .seconds(5)

    let decide: @Sendable (HTTPRequestHead) -> UpgradeDecision
    let handler: Handler
    /// Slowloris: a connection must complete its HTTP request within `headerTimeout`, and at most
    /// `pending.limit` connections may be waiting for theirs at once (a new one closes the oldest).
    let headerTimeout: TimeAmount
    let pending: PendingConnections
    /// Answers plain HTTP requests.
    let http: @Sendable (PublicRequest) async -> PublicResponse

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let ticket = pending.enter(close: { channel.close(mode: .all, promise: nil) })
        let left = NIOLockedValueBox(false)
        let leave: @Sendable () -> Void = { [pending] in
            left.withLockedValue { $0 = true }
            pending.leave(ticket)
        }
        // The server sends only small JSON: a fixed send buffer bounds the memory a non-reading client pins
        // in the kernel (autotuning would grow it to megabytes) and makes a stalled client show up sooner.
        try? channel.syncOptions?.setOption(.socketOption(.so_sndbuf), value: Self.sendBufferBytes)
        let timeout = channel.eventLoop.scheduleTask(in: headerTimeout) {
            pending.timedOut()
            channel.close(promise: nil)
        }
        channel.closeFuture.whenComplete { _ in
            timeout.cancel()
            leave()
        }
        return channel.eventLoop.makeCompletedFuture {
            // Shutdown (after the session drain): a connection still sending its request is closed at once, an
            // upgraded one gets the WebSocket close timeout to finish its close handshake. Without this the
            // listener's graceful shutdown waits for each of them (a half-sent request up to the header
            // timeout, a connection that never starts a session up to the idle timeout).
            try channel.pipeline.syncOperations.addHandler(
                QuiesceCloser(requestComplete: { left.withLockedValue { $0 } }, grace: Self.closeTimeout))
            let refusal = NIOLoopBoundBox<(HTTPResponseStatus, String)?>(nil, eventLoop: channel.eventLoop)
            let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                maxFrameSize: Self.maxFrameSize,
                // SessionFrameGuard answers framing errors itself, with the protocol's `error` first.
                enableAutomaticErrorHandling: false,
                shouldUpgrade: { channel, head in
                    switch decide(head) {
                    case .upgrade(let headers):
                        return channel.eventLoop.makeSucceededFuture(headers)
                    case let .refuse(status, reason):
                        refusal.value = (status, reason)
                        return channel.eventLoop.makeSucceededFuture(nil)
                    }
                },
                upgradePipelineHandler: { channel, head in
                    channel.eventLoop.makeCompletedFuture {
                        // The request is complete: the header timeout no longer applies.
                        timeout.cancel()
                        leave()
                        try channel.pipeline.syncOperations.addHandler(SessionFrameGuard(maxFrameSize: Self.maxFrameSize))
                        let asyncChannel = try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true))
                        return UpgradeResult.websocket(asyncChannel, head)
                    }
                })
            let upgradeConfiguration = NIOTypedHTTPServerUpgradeConfiguration<UpgradeResult>(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // The refusal is written at once; the header timeout still bounds reading its body.
                        leave()
                        let asyncChannel = try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                            wrappingChannelSynchronously: channel)
                        let (status, reason) = refusal.value ?? (.upgradeRequired, "")
                        return UpgradeResult.refused(asyncChannel, status, reason)
                    }
                })
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration(upgradeConfiguration: upgradeConfiguration)
            configuration.enablePipelining = false
            let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
            return Value(upgradeResult: result, channel: channel, requestRead: { timeout.cancel() })
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case let .websocket(asyncChannel, head):
                let nioChannel = asyncChannel.channel
                let context = SessionSocketContext(logger: logger, head: head,
                                                   abort: { nioChannel.close(mode: .all, promise: nil) })
                _ = try await WebSocketHandler.handle(
                    type: .server,
                    configuration: .init(extensions: [], autoPing: .enabled(timePeriod: .seconds(30)),
                                         closeTimeout: .nanoseconds(Self.closeTimeout.nanoseconds), validateUTF8: true, maxFrameSize: Self.maxFrameSize),
                    asyncChannel: asyncChannel, context: context, handler: handler)
            case let .refused(asyncChannel, status, reason):
                try await writeRefusal(asyncChannel, status: status, reason: reason, requestRead: value.requestRead)
            }
        } catch {
            logger.debug("connection ended with an error", metadata: ["error.message": "\(error)"])
        }
    }

    private func writeRefusal(_ channel: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>,
                              status: HTTPResponseStatus, reason: String,
                              requestRead: @Sendable () -> Void) async throws {
        try await channel.executeThenClose { inbound, outbound in
            var response = PublicResponse.text(status, reason)
            var isHead = false
            if status == .upgradeRequired {
                // A plain HTTP request: read it (the header timeout bounds the body too), then answer it.
                var head: HTTPRequestHead?
                var body: [UInt8] = []
                var tooLarge = false
                for try await part in inbound {
                    switch part {
                    case .head(let h): head = h
                    case .body(var chunk):
                        if body.count + chunk.readableBytes > PublicRequest.maxBody {
                            tooLarge = true
                        } else {
                            body += chunk.readBytes(length: chunk.readableBytes) ?? []
                        }
                    case .end: break
                    }
                    if case .end = part { break }
                    if tooLarge { break }
                }
                requestRead()
                if tooLarge {
                    response = .text(.payloadTooLarge, "request body over \(PublicRequest.maxBody) bytes\n")
                } else if let head {
                    isHead = head.method == .HEAD
                    response = await http(PublicRequest(head: head, body: body))
                } else {
                    return
                }
            }
            var headers = HTTPHeaders()
            for (name, value) in response.headers { headers.add(name: name, value: value) }
            headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
            headers.replaceOrAdd(name: "Connection", value: "close")
            try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers)))
            // HEAD: the headers of the GET, no body.
            if !response.body.isEmpty && !isHead {
                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
            }
            try await outbound.write(.end(nil))
        }
    }
}

/// Context handed to the session handler: the upgrade request and a logger.
struct SessionSocketContext: WebSocketContext {
    let logger: Logger
    let head: HTTPRequestHead
    /// Closes the TCP connection at once (a client that stopped reading cannot block it).
    let abort: @Sendable () -> Void
}

/// Closes a public connection when the listener shuts down (NIO's `ChannelShouldQuiesceEvent`): at once
/// while its HTTP request is incomplete, after `grace` once it is a WebSocket (the session drain has sent
/// its `going_away` by then; this bounds connections without a session and close handshakes).
final class QuiesceCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    let requestComplete: @Sendable () -> Bool
    let grace: TimeAmount

    init(requestComplete: @escaping @Sendable () -> Bool, grace: TimeAmount) {
        self.requestComplete = requestComplete
        self.grace = grace
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            let channel = context.channel
            if requestComplete() {
                channel.eventLoop.scheduleTask(in: grace) { channel.close(mode: .all, promise: nil) }
            } else {
                context.close(mode: .all, promise: nil)
                return
            }
        }
        context.fireUserInboundEventTriggered(event)
    }
}

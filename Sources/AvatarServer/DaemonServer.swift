import AvatarConfig
import AvatarMedia
import AvatarPipeline
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The daemon: public WebSocket listener, admin listener, session registry, systemd notification and
/// the SIGTERM drain, run as one ServiceGroup.
public final class DaemonServer: Sendable {
    public let config: DaemonConfig
    public let planner: SessionPlanner
    public let registry: SessionRegistry
    public let readiness: Readiness
    private let makeOutput: SessionOutputFactory
    private let logger: Logger
    private let notifier: SystemdNotifier
    private let bound = Mutex<(publicPort: Int?, adminPort: Int?)>((nil, nil))
    private let boundWaiters = Mutex<[CheckedContinuation<(publicPort: Int, adminPort: Int), Never>]>([])
    private let onMotion: (@Sendable (String, MotionFrameRecord) -> Void)?
    /// The running service group, for `shutdown()`.
    private let group = Mutex<ServiceGroup?>(nil)
    /// Public connections still sending their HTTP request (slowloris cap).
    public let pendingConnections: PendingConnections
    /// WebRTC viewers (WHEP) of the sessions with a WebRTC output.
    public let whep: WHEPService

    public init(config: DaemonConfig, avatars: AvatarRegistry, presets: PresetCatalog,
                makeOutput: @escaping SessionOutputFactory, readiness: Readiness = Readiness(),
                capacity: CapacityModel = CapacityModel(),
                notifier: SystemdNotifier = SystemdNotifier(), logger: Logger,
                onMotion: (@Sendable (String, MotionFrameRecord) -> Void)? = nil) {
        // Metrics created before the bootstrap would go nowhere.
        MetricsSetup.bootstrap()
        self.config = config
        self.planner = SessionPlanner(avatars: avatars, presets: presets, config: config)
        self.registry = SessionRegistry(maxSessions: config.limits.maxSessions, capacity: capacity)
        self.readiness = readiness
        let whep = WHEPService(logger: logger)
        self.whep = whep
        // A WebRTC output becomes reachable through WHEP as soon as it runs (before session.ready).
        self.makeOutput = { plan, width, height in
            let output = try makeOutput(plan, width, height)
            if let fanout = (output as? GStreamerSessionOutput)?.webrtc {
                whep.register(sessionID: plan.sessionID, output: plan.preset.name, fanout: fanout)
            }
            return output
        }
        self.notifier = notifier
        self.logger = logger
        self.onMotion = onMotion
        self.pendingConnections = PendingConnections(limit: config.limits.maxPendingConnections, logger: logger)
    }

    /// Ports actually bound (useful with port 0), once both listeners are up.
    public func waitUntilListening() async -> (publicPort: Int, adminPort: Int) {
        await withCheckedContinuation { c in
            let ready: (publicPort: Int, adminPort: Int)? = bound.withLock { b in
                if let p = b.publicPort, let a = b.adminPort { return (p, a) }
                return nil
            }
            if let ready { c.resume(returning: ready) } else {
                boundWaiters.withLock { $0.append(c) }
                // Re-check: the listeners may have come up in between.
                if let r: (publicPort: Int, adminPort: Int) = bound.withLock({ b in b.publicPort.flatMap { p in b.adminPort.map { (p, $0) } } }) {
                    let waiters = boundWaiters.withLock { w -> [CheckedContinuation<(publicPort: Int, adminPort: Int), Never>] in
                        let all = w
                        w.removeAll()
                        return all
                    }
                    for w in waiters { w.resume(returning: r) }
                }
            }
        }
    }

    private func listenerBound(publicPort: Int? = nil, adminPort: Int? = nil) {
        let both: (publicPort: Int, adminPort: Int)? = bound.withLock { b in
            if let publicPort { b.publicPort = publicPort }
            if let adminPort { b.adminPort = adminPort }
            if let p = b.publicPort, let a = b.adminPort { return (p, a) }
            return nil
        }
        guard let both else { return }
        readiness.set("listeners", notReady: nil)
        let waiters = boundWaiters.withLock { w -> [CheckedContinuation<(publicPort: Int, adminPort: Int), Never>] in
            let all = w
            w.removeAll()
            return all
        }
        for w in waiters { w.resume(returning: both) }
    }

    /// Runs until SIGTERM/SIGINT (or the task is cancelled), then drains sessions and stops.
    public func run(handleSignals: Bool = true) async throws {
        if !config.listen.isLoopback && config.tokens.isEmpty {
            logger.warning("public listener is not on loopback and no tokens are configured: anyone can connect",
                           metadata: ["listen": "\(config.listen)"])
        }
        let connectionLogger = logger
        let routes = PublicRoutes(tokens: Set(config.tokens), avatars: planner.avatars,
                                  webrtcOutputs: planner.presets.names.filter { planner.presets[$0]?.isWebRTC == true },
                                  whep: whep)
        let tokens = Set(config.tokens)
        let connection = SessionConnection(planner: planner, registry: registry, makeOutput: makeOutput,
                                           idleTimeout: .milliseconds(Int64(config.limits.idleTimeoutSeconds * 1000)),
                                           logger: connectionLogger, onMotion: onMotion)
        let channel = SessionWebSocketChannel(
            decide: { head in Self.decideUpgrade(head, tokens: tokens) },
            handler: { inbound, outbound, context in
                await connection.run(inbound: inbound, outbound: outbound, abortConnection: context.abort)
            },
            headerTimeout: .milliseconds(Int64(config.limits.headerTimeoutSeconds * 1000)),
            pending: pendingConnections,
            http: { [routes] request in await routes.respond(request) })
        let publicServer = channel.server(
            configuration: ServerConfiguration(address: .hostname(config.listen.host, port: config.listen.port),
                                               serverName: "avatard"),
            onServerRunning: { [weak self] ch in self?.listenerBound(publicPort: ch.localAddress?.port ?? 0) },
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
        let admin = Application(
            router: AdminRouter.make(readiness: readiness, registry: registry, avatars: planner.avatars,
                                     metrics: MetricsSetup.registry),
            // Admin requests are tiny: an idle or half-sent one is closed (slowloris on the admin port).
            server: .http1(configuration: .init(idleTimeout: .milliseconds(Int64(config.limits.headerTimeoutSeconds * 1000)))),
            configuration: .init(address: .hostname(config.adminListen.host, port: config.adminListen.port),
                                 serverName: "avatard-admin"),
            onServerRunning: { [weak self] ch in self?.listenerBound(adminPort: ch.localAddress?.port ?? 0) },
            logger: logger)
        let lifecycle = LifecycleService(server: self, forceExitAfterDrainTimeout: handleSignals)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: admin), .init(service: publicServer), .init(service: lifecycle),
                       // Its return on shutdown must not end the group (that would cut the session drain short).
                       .init(service: WHEPSweeper(whep: whep), successTerminationBehavior: .ignore)],
            gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
            logger: logger))
        self.group.withLock { $0 = group }
        defer { self.group.withLock { $0 = nil } }
        do {
            try await group.run()
        } catch {
            // A listener that cannot bind ends the group: say which one, so the operator can fix it.
            let (p, a) = bound.withLock { ($0.publicPort, $0.adminPort) }
            if p == nil { throw ListenerError(role: "public", address: config.listen, underlying: "\(error)") }
            if a == nil { throw ListenerError(role: "admin", address: config.adminListen, underlying: "\(error)") }
            throw error
        }
    }

    /// What SIGTERM does, for embedders (benchmarks, tests): drain the sessions, stop the listeners; `run`
    /// then returns. Unlike cancelling `run`'s task, nothing is cut short and nothing is logged as an error.
    public func shutdown() async {
        guard let group = group.withLock({ $0 }) else { return }
        await group.triggerGracefulShutdown()
    }

    /// Both bound ports, or nil if the task is cancelled first (a listener failed to bind).
    private func listeningPorts() async -> (publicPort: Int, adminPort: Int)? {
        while !Task.isCancelled {
            if let ports: (publicPort: Int, adminPort: Int) = bound.withLock({ b in b.publicPort.flatMap { p in b.adminPort.map { (p, $0) } } }) {
                return ports
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// Protocol v1 upgrade rules: the session path, the `avatard.v1` subprotocol, bearer tokens.
    static func decideUpgrade(_ head: HTTPRequestHead, tokens: Set<String>) -> UpgradeDecision {
        let parts = head.uri.split(separator: "?", maxSplits: 1)
        let path = parts.first.map(String.init) ?? head.uri
        guard path == "/v1/session" else { return .refuse(.notFound, "not found\n") }
        var headers = HTTPHeaders()
        let offered = head.headers["Sec-WebSocket-Protocol"]
            .flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        if !offered.isEmpty {
            guard offered.contains("avatard.v1") else {
                return .refuse(.badRequest, "subprotocol avatard.v1 is required when subprotocols are offered\n")
            }
            headers.add(name: "Sec-WebSocket-Protocol", value: "avatard.v1")
        }
        if !tokens.isEmpty {
            var presented: String?
            if let auth = head.headers["Authorization"].first, auth.lowercased().hasPrefix("bearer ") {
                presented = String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            } else if parts.count == 2 {
                for item in parts[1].split(separator: "&") where item.hasPrefix("token=") {
                    presented = String(item.dropFirst(6)).removingPercentEncoding
                }
            }
            guard let presented, tokens.contains(presented) else {
                return .refuse(.unauthorized, "missing or wrong bearer token\n")
            }
        }
        return .upgrade(headers)
    }

    /// Removes WebRTC viewers whose connection failed or never came up, every second.
    private struct WHEPSweeper: Service {
        let whep: WHEPService
        func run() async throws {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                await whep.sweep()
                _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            }
        }
    }

    /// READY=1 once listening and ready, WATCHDOG=1 while the event loops and session render threads make
    /// progress, STOPPING=1 and the session drain on graceful shutdown.
    private struct LifecycleService: Service {
        let server: DaemonServer
        /// A process that owns its signals (`serve`) exits shortly after a drain timeout even if a hung
        /// session still holds its connection open; an embedding process (tests) is left alone.
        let forceExitAfterDrainTimeout: Bool

        func run() async throws {
            let notifier = server.notifier
            // Cancelled (not waited on forever) when a listener fails to bind: the group then ends.
            guard await server.listeningPorts() != nil else { return }
            var announced = false
            let interval = notifier.watchdogInterval.map { $0 / 2 } ?? .seconds(2)
            await withGracefulShutdownHandler {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    let reasons = server.readiness.current(registry: nil)
                    if !announced && reasons.isEmpty {
                        announced = true
                        notifier.notify("READY=1\nSTATUS=serving 0/\(server.registry.maxSessions) sessions")
                        server.logger.notice("ready", metadata: ["listen": "\(server.config.listen)",
                                                                  "admin_listen": "\(server.config.adminListen)"])
                    }
                    if notifier.watchdogInterval != nil {
                        // Only a live event loop and moving render threads earn a watchdog ping.
                        let loopAlive = (try? await MultiThreadedEventLoopGroup.singleton.next().submit { true }.get()) ?? false
                        let stalled = server.registry.stalledSessions(threshold: .seconds(10))
                        if loopAlive && stalled.isEmpty {
                            notifier.notify("WATCHDOG=1\nSTATUS=serving \(server.registry.activeCount)/\(server.registry.maxSessions) sessions")
                        } else {
                            server.logger.error("watchdog withheld", metadata: ["stalled_sessions": "\(stalled)"])
                        }
                    }
                    // Woken by SIGTERM at once, so the drain starts without waiting out the interval.
                    _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
                }
            } onGracefulShutdown: {
                notifier.notify("STOPPING=1\nSTATUS=draining sessions")
            }
            server.logger.notice("draining sessions", metadata: ["sessions": "\(server.registry.activeCount)"])
            let timeout = server.config.limits.drainTimeoutSeconds
            let drainStart = ContinuousClock.now
            if await server.registry.drain(timeout: .milliseconds(Int64(timeout * 1000))) {
                // Each connection's going_away close frame goes out before the listener shuts down (its
                // shutdown would close WebSockets with 1000).
                let left = .milliseconds(Int64(timeout * 1000)) - (ContinuousClock.now - drainStart)
                _ = await server.registry.waitForClosedConnections(timeout: max(.milliseconds(100), min(.seconds(5), left)))
                server.logger.notice("drained")
            } else {
                server.logger.warning("drain timeout: exiting with sessions still running",
                                      metadata: ["sessions": "\(server.registry.activeCount)", "drain_timeout_seconds": "\(timeout)"])
                if forceExitAfterDrainTimeout {
                    // The listeners get a moment to close what they can; a hung render must not keep the process.
                    Thread.detachNewThread {
                        Thread.sleep(forTimeInterval: 3)
                        server.logger.warning("forced exit after the drain timeout")
                        exit(1)
                    }
                }
            }
        }
    }
}

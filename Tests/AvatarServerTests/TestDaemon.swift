import AvatarClient
import AvatarConfig
import AvatarMedia
import AvatarPipeline
import AvatarProtocol
import AvatarServer
import AvatarStages
import AvatarTestSupport
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPTypes
import Logging
import NIOWebSocket
import Synchronization
import Testing
import WSClient

/// A real daemon on loopback (ephemeral ports) serving the envelope test avatar with the shipped presets.
final class TestDaemon: Sendable {
    let server: DaemonServer
    let publicPort: Int
    let adminPort: Int
    let outputDirectory: String
    private let task: Task<Void, any Error>
    let motionBox: MotionBox
    /// Error-level lines the daemon's logger wrote (the server and Hummingbird log through it).
    let errors: ErrorLines

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static func start(configure: (inout DaemonConfig) -> Void = { _ in }, avatars: [any Avatar] = [EnvelopeAvatar()],
                      makeOutput: SessionOutputFactory? = nil, capacity: CapacityModel = CapacityModel()) async throws -> TestDaemon {
        var config = DaemonConfig()
        config.listen = ListenAddress(host: "127.0.0.1", port: 0)
        config.adminListen = ListenAddress(host: "127.0.0.1", port: 0)
        config.outputDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("avatard-out-\(UUID().uuidString)").path
        config.outputDelayMs = 100
        configure(&config)
        try? FileManager.default.createDirectory(atPath: config.outputDirectory, withIntermediateDirectories: true)
        let presets = PresetCatalog.load(directory: repositoryRoot.appendingPathComponent("Pipelines").path,
                                         operatorPresets: config.presets)
        let errors = ErrorLines()
        var logger = Logger(label: "test-daemon") { label in
            ErrorCapturingLogHandler(inner: StreamLogHandler.standardError(label: label), errors: errors)
        }
        logger.logLevel = ProcessInfo.processInfo.environment["AVATARD_TEST_LOG"] == nil ? .warning : .debug
        let box = MotionBox()
        let server = DaemonServer(config: config, avatars: AvatarRegistry(avatars), presets: presets,
                                  makeOutput: makeOutput ?? GStreamerSessionOutput.factory(allowedElements: ElementAllowlist.standard),
                                  capacity: capacity, logger: logger, onMotion: { id, frame in box.append(id, frame) })
        let task = Task { try await server.run(handleSignals: false) }
        let ports = await server.waitUntilListening()
        return TestDaemon(server: server, task: task, ports: ports, outputDirectory: config.outputDirectory, motionBox: box,
                          errors: errors)
    }

    private init(server: DaemonServer, task: Task<Void, any Error>, ports: (publicPort: Int, adminPort: Int),
                 outputDirectory: String, motionBox: MotionBox, errors: ErrorLines) {
        self.server = server
        self.errors = errors
        self.task = task
        self.publicPort = ports.publicPort
        self.adminPort = ports.adminPort
        self.outputDirectory = outputDirectory
        self.motionBox = motionBox
    }

    var url: String { "ws://127.0.0.1:\(publicPort)/v1/session" }

    /// What SIGTERM does (drain, then the listeners shut down gracefully), not a cancellation: cancelling
    /// `run` cuts the listeners short and Hummingbird logs that at error level. A shutdown that does not
    /// finish within `timeout` is a failure (and is then cancelled, so the test run goes on).
    func stop(timeout: Duration = .seconds(30)) async {
        let before = errors.lines.count
        await server.shutdown()
        let finished = Mutex(false)
        let watchdog = Task { [task] in
            try await Task.sleep(for: timeout)
            if !finished.withLock({ $0 }) { task.cancel() }
        }
        let begin = ContinuousClock.now
        _ = try? await task.value
        finished.withLock { $0 = true }
        watchdog.cancel()
        if ContinuousClock.now - begin >= timeout {
            Issue.record("the test daemon did not shut down within \(timeout)")
        }
        let logged = errors.lines.dropFirst(before)
        if !logged.isEmpty { Issue.record("error-level lines during a normal shutdown: \(Array(logged))") }
    }

    func file(for sessionID: String, ext: String = "mp4") -> String {
        (outputDirectory as NSString).appendingPathComponent("\(sessionID).\(ext)")
    }

    /// GET on the admin listener: (status, body).
    func admin(_ path: String) async throws -> (Int, String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(adminPort)\(path)")!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}

/// Motion observed per session.
final class MotionBox: Sendable {
    private let frames = Mutex<[String: [MotionFrameRecord]]>([:])
    func append(_ id: String, _ f: MotionFrameRecord) { frames.withLock { $0[id, default: []].append(f) } }
    func frames(_ id: String) -> [MotionFrameRecord] { frames.withLock { $0[id] ?? [] } }
}

/// Error-level (and critical) messages seen by a logger.
final class ErrorLines: Sendable {
    private let box = Mutex<[String]>([])
    func append(_ line: String) { box.withLock { $0.append(line) } }
    var lines: [String] { box.withLock { $0 } }
}

/// Writes through `inner` and keeps error-level messages in `errors`.
struct ErrorCapturingLogHandler: LogHandler {
    var inner: StreamLogHandler
    let errors: ErrorLines
    var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }
    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }
    func log(event: LogEvent) {
        if event.level >= .error { errors.append("\(event.level) [\(event.source)] \(event.message)") }
        inner.log(event: event)
    }
}

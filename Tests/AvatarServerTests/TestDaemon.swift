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
        var logger = Logger(label: "test-daemon")
        logger.logLevel = ProcessInfo.processInfo.environment["AVATARD_TEST_LOG"] == nil ? .warning : .debug
        let box = MotionBox()
        let server = DaemonServer(config: config, avatars: AvatarRegistry(avatars), presets: presets,
                                  makeOutput: makeOutput ?? GStreamerSessionOutput.factory(allowedElements: ElementAllowlist.standard),
                                  capacity: capacity, logger: logger, onMotion: { id, frame in box.append(id, frame) })
        let task = Task { try await server.run(handleSignals: false) }
        let ports = await server.waitUntilListening()
        return TestDaemon(server: server, task: task, ports: ports, outputDirectory: config.outputDirectory, motionBox: box)
    }

    private init(server: DaemonServer, task: Task<Void, any Error>, ports: (publicPort: Int, adminPort: Int),
                 outputDirectory: String, motionBox: MotionBox) {
        self.server = server
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

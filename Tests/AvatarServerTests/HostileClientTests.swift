import AvatarClient
import AvatarConfig
import AvatarFormats
import AvatarMedia
import AvatarPipeline
import AvatarProtocol
import AvatarServer
import AvatarTestSupport
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import Testing

/// What a hostile client does below the protocol (framing, slowloris, vanishing mid-close) or around it
/// (holding slots), and what a careless operator does (a port in use): none of it stops the daemon.
@Suite(.serialized, .timeLimit(.minutes(3))) struct HostileClientTests {
    static let start = ProtocolViolationTests.start()

    /// Runs `body` on a plain thread (blocking socket calls stay off the cooperative pool).
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in Thread { c.resume(with: Result { try body() }) }.start() }
    }

    static func rejection(port: Int, frames: [[UInt8]]) async throws -> (texts: [String], closeCode: UInt16?) {
        try await blocking {
            let socket = try RawSocket(port: port)
            try socket.upgrade()
            for f in frames { socket.send(f) }
            let (bytes, _) = socket.readAll(timeout: .seconds(5))
            return RawSocket.parseServerFrames(bytes)
        }
    }

    @Test func unmaskedClientFramesAreRefusedWithAnError() async throws {
        let daemon = try await TestDaemon.start()
        let r = try await Self.rejection(port: daemon.publicPort,
                                         frames: [RawSocket.frame(opcode: 1, payload: Array(Self.start.utf8), masked: false)])
        #expect(r.texts.contains { $0.contains(#""code":"protocol""#) && $0.contains("masked") }, "\(r.texts)")
        #expect(r.closeCode == 4000)
        await daemon.stop()
    }

    @Test func frameOverTheDecoderLimitGetsTooBigWithAnError() async throws {
        let daemon = try await TestDaemon.start()
        // The header promises 2 MiB; only the start of it is sent.
        let header = RawSocket.frame(opcode: 2, payload: [UInt8](repeating: 0, count: 64), declaredLength: 2 << 20)
        let r = try await Self.rejection(port: daemon.publicPort, frames: [header])
        #expect(r.texts.contains { $0.contains(#""code":"too_big""#) }, "\(r.texts)")
        #expect(r.closeCode == 1009)
        await daemon.stop()
    }

    @Test func invalidUTF8TextGetsAnError() async throws {
        let daemon = try await TestDaemon.start()
        let r = try await Self.rejection(port: daemon.publicPort,
                                         frames: [RawSocket.frame(opcode: 1, payload: [0x7B, 0xFF, 0xFE, 0x7D])])
        #expect(r.texts.contains { $0.contains(#""code":"protocol""#) && $0.contains("UTF-8") }, "\(r.texts)")
        #expect(r.closeCode == 4000)
        await daemon.stop()
    }

    @Test func halfSentRequestsAreClosedAndCapped() async throws {
        let daemon = try await TestDaemon.start {
            $0.limits.headerTimeoutSeconds = 2
            $0.limits.maxPendingConnections = 4
        }
        let port = daemon.publicPort
        let (evicted, othersOpen, timedOut) = try await Self.blocking { () -> (Bool, Bool, Bool) in
            // One after another: connections accepted together are set up on different event loops, in any order.
            let slow = try (0..<4).map { _ in
                let s = try RawSocket(port: port)
                s.send("GET /v1/session HTTP/1.1\r\nHost: x\r\n")
                Thread.sleep(forTimeInterval: 0.1)
                return s
            }
            // A fifth makes room by closing the one that has waited longest.
            let extra = try RawSocket(port: port)
            extra.send("GET /v1/session HTTP/1.1\r\n")
            let evicted = slow[0].readAll(timeout: .seconds(1)).closed
            let othersOpen = !slow[1].readAll(timeout: .milliseconds(100)).closed
            // The others are closed by the header timeout.
            let timedOut = (slow[1...] + [extra]).allSatisfy { $0.readAll(timeout: .seconds(4)).closed }
            return (evicted, othersOpen, timedOut)
        }
        #expect(evicted)
        #expect(othersOpen)
        #expect(timedOut)
        // And the daemon still serves a normal session afterwards.
        let packets = try TestAudio.packets(TestAudio.segments([(0.4, 0.3)])).map { ClientPacket(data: $0, duration48k: 960) }
        let result = try await StreamingClient(url: daemon.url, logger: .init(label: "t")).run(
            start: SessionStart(avatar: "envelope", output: "file-mp4"), packets: packets, pacing: .fast)
        #expect(result.closeCode == 1000)
        await daemon.stop()
    }

    @Test func answeredRequestsAreNotCountedAsHeaderTimeouts() async throws {
        let daemon = try await TestDaemon.start { $0.limits.headerTimeoutSeconds = 0.3 }
        func timeouts() async throws -> Double {
            DiskFullTests.counter(#"avatard_connections_refused_total{reason="header_timeout"}"#, in: try await daemon.admin("/metrics").1)
        }
        let before = try await timeouts()
        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(daemon.publicPort)/v1/session")!)
        #expect((response as? HTTPURLResponse)?.statusCode == 426, "\(String(decoding: data, as: UTF8.self))")
        try await Task.sleep(for: .milliseconds(700))
        #expect(try await timeouts() == before)
        await daemon.stop()
    }

    @Test func bindFailureEndsRunWithTheAddress() async throws {
        let daemon = try await TestDaemon.start()
        var config = DaemonConfig()
        config.listen = ListenAddress(host: "127.0.0.1", port: daemon.publicPort) // already taken
        config.adminListen = ListenAddress(host: "127.0.0.1", port: 0)
        let server = DaemonServer(config: config, avatars: AvatarRegistry([EnvelopeAvatar()]), presets: PresetCatalog(),
                                  makeOutput: { _, _, _ in RecordingOutput() }, logger: Logger(label: "bind"))
        let run = Task { () -> (any Error)? in
            do { try await server.run(handleSignals: false); return nil } catch { return error }
        }
        let watchdog = Task {
            try await Task.sleep(for: .seconds(20))
            run.cancel()
        }
        let error = await run.value
        watchdog.cancel()
        let listenerError = try #require(error as? ListenerError, "run ended with \(String(describing: error))")
        #expect(listenerError.role == "public")
        #expect(listenerError.description.contains("127.0.0.1:\(daemon.publicPort)"))
        await daemon.stop()
    }

    @Test func aSlotIsHeldUntilTheRenderThreadHasStopped() async throws {
        // The output takes 2 s to finalize; the client goes quiet and is ended by the idle timeout.
        let daemon = try await TestDaemon.start(configure: {
            $0.limits.maxSessions = 1
            $0.limits.idleTimeoutSeconds = 1
        }, makeOutput: { _, _, _ in SlowFinishOutput(finishDelay: .seconds(2)) })
        let quiet = Task {
            try await RawClient.exchange(daemon.url, frames: [.text(Self.start), .binary(try ProtocolViolationTests.audioFrame())],
                                         waitForClose: .seconds(10))
        }
        let first = try await quiet.value
        #expect(first.errorCode == .idleTimeout)
        // The first session's thread is still finalizing: the only slot is taken.
        #expect(daemon.server.registry.activeCount == 1)
        let second = try await RawClient.exchange(daemon.url, frames: [.text(Self.start)], waitForClose: .seconds(1))
        #expect(second.errorCode == .capacity)
        // Once it has finished, the slot is free again.
        let deadline = ContinuousClock.now + .seconds(10)
        while daemon.server.registry.activeCount > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(daemon.server.registry.activeCount == 0)
        await daemon.stop()
    }

    @Test func aClientThatStopsReadingCannotHoldItsSession() async throws {
        let daemon = try await TestDaemon.start(configure: {
            $0.limits.maxSessions = 1
            $0.limits.idleTimeoutSeconds = 3
        }, makeOutput: { _, _, _ in RecordingOutput() })
        let port = daemon.publicPort
        // Every input.interrupt is answered with input.interrupted; the client never reads them, so the
        // server's writes (and its close) block on a full socket.
        let socket = try await Self.blocking { () -> RawSocket in
            let socket = try RawSocket(port: port, receiveBuffer: 1024)
            try socket.upgrade()
            socket.send(RawSocket.frame(opcode: 1, payload: Array(Self.start.utf8)))
            let interrupt = RawSocket.frame(opcode: 1, payload: Array(#"{"type":"input.interrupt"}"#.utf8))
            // 100k answers of ~60 bytes: more than the socket buffers hold even where the kernel autotunes
            // them to 4 MiB (avatard fixes its own at 64 KiB).
            socket.send(Array([[UInt8]](repeating: interrupt, count: 100_000).joined()))
            return socket
        }
        #expect(daemon.server.registry.activeCount == 1, "the session is running")
        // The idle timeout (3 s) ends the session although its close cannot be written.
        let deadline = ContinuousClock.now + .seconds(30)
        while daemon.server.registry.activeCount > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        #expect(daemon.server.registry.activeCount == 0)
        let closed = try await Self.blocking { socket.readAll(timeout: .seconds(10)).closed }
        #expect(closed)
        await daemon.stop()
    }

    @Test func drainGivesUpAfterItsTimeout() async throws {
        let daemon = try await TestDaemon.start(makeOutput: { _, _, _ in SlowFinishOutput(finishDelay: .seconds(5)) })
        let client = Task {
            try await RawClient.exchange(daemon.url, frames: [.text(Self.start), .binary(try ProtocolViolationTests.audioFrame())],
                                         waitForClose: .seconds(10))
        }
        while daemon.server.registry.activeCount == 0 { try await Task.sleep(for: .milliseconds(20)) }
        try await Task.sleep(for: .milliseconds(300))
        let begin = ContinuousClock.now
        let drained = await daemon.server.registry.drain(timeout: .milliseconds(500))
        #expect(!drained)
        #expect(ContinuousClock.now - begin < .seconds(2))
        _ = try await client.value
        await daemon.stop()
    }
}

/// An output whose `finish()` takes a while (a slow disk, a big file): the session's thread is busy then.
final class SlowFinishOutput: SessionOutput, @unchecked Sendable {
    let inner = RecordingOutput()
    let finishDelay: Duration
    init(finishDelay: Duration) { self.finishDelay = finishDelay }
    func pushVideo(_ frame: I420Frame, pts: UInt64, duration: UInt64) throws { try inner.pushVideo(frame, pts: pts, duration: duration) }
    func pushAudio(_ packet: [UInt8], pts: UInt64, duration: UInt64) throws { try inner.pushAudio(packet, pts: pts, duration: duration) }
    var failure: String? { inner.failure }
    func finish() throws {
        Thread.sleep(forTimeInterval: Double(finishDelay.components.seconds))
        try inner.finish()
    }
}

/// A full disk ends the session with `output_failed` (not `internal`) and counts as a pipeline error.
@Suite(.serialized, .timeLimit(.minutes(2))) struct DiskFullTests {
    @Test func diskFullIsOutputFailed() async throws {
        let factory = GStreamerSessionOutput.factory(allowedElements: ElementAllowlist.standard)
        // The session's file goes to /dev/full: every write fails with ENOSPC.
        let daemon = try await TestDaemon.start(makeOutput: { plan, width, height in
            var full = plan
            if let file = plan.outputFile { full.pipeline = plan.pipeline.replacing(file, with: "/dev/full") }
            return try factory(full, width, height)
        })
        let (_, before) = try await daemon.admin("/metrics")
        var frames: [RawClient.Frame] = [.text(ProtocolViolationTests.start())]
        for i in 0..<100 { frames.append(.binary(try ProtocolViolationTests.audioFrame(seq: UInt32(i), ts: UInt64(i * 960)))) }
        frames.append(.text(#"{"type":"session.close"}"#))
        let outcome = try await RawClient.exchange(daemon.url, frames: frames, waitForClose: .seconds(20))
        #expect(outcome.errorCode == .outputFailed, "\(outcome.messages)")
        #expect(outcome.closeCode == 4004)
        let (_, after) = try await daemon.admin("/metrics")
        #expect(Self.counter("avatard_pipeline_errors_total", in: after) > Self.counter("avatard_pipeline_errors_total", in: before),
                "\(after.split(separator: "\n").filter { $0.contains("pipeline_errors") })")
        await daemon.stop()
    }

    /// A push refused mid-session (the file-size limit, EFBIG), before the bus has reported anything.
    @Test func aRefusedPushIsOutputFailedNotInternal() async throws {
        let daemon = try await TestDaemon.start(makeOutput: { _, _, _ in RefusingOutput(acceptFrames: 5) })
        var frames: [RawClient.Frame] = [.text(ProtocolViolationTests.start())]
        for i in 0..<50 { frames.append(.binary(try ProtocolViolationTests.audioFrame(seq: UInt32(i), ts: UInt64(i * 960)))) }
        frames.append(.text(#"{"type":"session.close"}"#))
        let outcome = try await RawClient.exchange(daemon.url, frames: frames, waitForClose: .seconds(20))
        #expect(outcome.errorCode == .outputFailed, "\(outcome.messages)")
        #expect(outcome.closeCode == 4004)
        #expect(outcome.errorMessage?.contains("File too large") == true)
        await daemon.stop()
    }

    static func counter(_ name: String, in metrics: String) -> Double {
        metrics.split(separator: "\n").filter { $0.hasPrefix(name) }.compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
    }
}

/// An output that takes a few frames and then refuses pushes as GStreamer does once its sink failed.
final class RefusingOutput: SessionOutput, @unchecked Sendable {
    let acceptFrames: Int
    private var frames = 0
    init(acceptFrames: Int) { self.acceptFrames = acceptFrames }
    func pushVideo(_ frame: I420Frame, pts: UInt64, duration: UInt64) throws {
        frames += 1
        if frames > acceptFrames { throw OutputError.push("filesink: File too large (EFBIG)") }
    }
    func pushAudio(_ packet: [UInt8], pts: UInt64, duration: UInt64) throws {}
    var failure: String? { nil }
    func finish() throws {}
}

@Suite struct LogRateLimiterTests {
    @Test func oneLinePerIntervalWithTheCountHeldBack() {
        let limiter = LogRateLimiter(interval: .seconds(1))
        let t0 = ContinuousClock.now
        #expect(limiter.allow(now: t0) == 0)
        for k in 1...299 { #expect(limiter.allow(now: t0 + .milliseconds(k)) == nil) }
        #expect(limiter.allow(now: t0 + .seconds(1)) == 299)
        #expect(limiter.allow(now: t0 + .milliseconds(1500)) == nil)
    }
}

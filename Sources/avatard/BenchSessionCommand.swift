import ArgumentParser
import AvatarClient
import AvatarConfig
import AvatarMedia
import AvatarProtocol
import AvatarServer
import Foundation
import Logging
import Synchronization

/// `avatard bench session`: N live sessions at once through the real daemon path (WebSocket, Opus decode,
/// features, motion, renderer, encoder, file output), fed at real time by the reference client. Reports what
/// each session sustained: frames, frames dropped, rate, and the audio-to-frame latency percentiles that the
/// daemon measured (its per-second `stats` messages).
struct BenchSessionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session",
        abstract: "Concurrent live sessions through the real daemon: sustained fps and audio-to-frame latency.",
        discussion: "Starts the daemon in this process on loopback ports, streams speech (--audio, or a sentence synthesized with espeak-ng) at real time to --sessions sessions at once, writes their files to a temporary directory, and prints per-session figures.")

    @Option(name: .long, help: "Avatar name or bundle directory.")
    var avatar: String = "demo"

    @Option(name: .long, help: "Concurrent sessions.")
    var sessions: Int = 2

    @Option(name: .long, help: "Speech to stream (any file GStreamer decodes); default: synthesized with espeak-ng.")
    var audio: String?

    @Option(name: .long, help: "Seconds of audio per session (the speech is repeated to fill them).")
    var seconds: Double = 20

    @Option(name: .long, help: "Output preset (default: a live one, so late frames are dropped and counted; file presets render as fast as they can instead).")
    var output: String = "rtp-h264"

    @Option(name: .customLong("output-delay-ms"), help: "Fixed delay of live outputs (default: the daemon's).")
    var outputDelayMs: Int?

    @Option(name: .long, help: "Configuration file (device, avatars, presets).")
    var config: String?

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard (1...32).contains(sessions) else { throw ValidationError("--sessions must be 1…32") }
        guard seconds >= 2 && seconds <= 600 else { throw ValidationError("--seconds must be 2…600") }
    }

    struct SessionFigures: Codable {
        var session: String
        var frames: Int
        var framesDropped: Int
        var mediaSeconds: Double
        var fps: Double
        var latencyMsP50: Double
        var latencyMsP95: Double
        var latencyMsP95Worst: Double
        /// The live output delay the daemon chose (session.ready latency_ms).
        var outputDelayMs: Int
        var closeCode: Int
        var fileDecodes: Bool?

        enum CodingKeys: String, CodingKey {
            case session, frames, fps, fileDecodes = "file_decodes", closeCode = "close_code"
            case framesDropped = "frames_dropped", mediaSeconds = "media_seconds"
            case latencyMsP50 = "latency_ms_p50", latencyMsP95 = "latency_ms_p95", latencyMsP95Worst = "latency_ms_p95_worst", outputDelayMs = "output_delay_ms"
        }
    }

    func run() async throws {
        var config = try ConfigFile.load(self.config)
        config.listen = ListenAddress(host: "127.0.0.1", port: 0)
        config.adminListen = ListenAddress(host: "127.0.0.1", port: 0)
        config.limits.maxSessions = max(config.limits.maxSessions, sessions)
        let outputDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("avatard-bench-\(getpid())")
        config.outputDirectory = outputDirectory.path
        if let outputDelayMs { config.outputDelayMs = outputDelayMs }
        var logConfig = config.log
        logConfig.level = "warning"
        let logger = LogSetup.bootstrap(logConfig)
        defer { try? FileManager.default.removeItem(at: outputDirectory) }

        do {
            let figures = try await bench(config: config, logger: logger)
            report(figures, config: config)
        } catch {
            FileHandle.standardError.write(Data("avatard: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    private func bench(config: DaemonConfig, logger: Logger) async throws -> [SessionFigures] {
        let setup = try DaemonSetup.prepare(config: config, logger: logger)
        let avatarName: String
        if avatar.contains("/") {
            throw ValidationErrorMessage("bench session serves loaded avatars only; put the bundle under [avatars] directory and pass its name")
        } else {
            avatarName = avatar
        }
        guard setup.avatars[avatarName] != nil else {
            throw ValidationErrorMessage("no avatar named '\(avatarName)' is loaded (loaded: \(setup.avatars.names.joined(separator: ", ")))")
        }
        let packets = try speechPackets()
        let server = DaemonServer(config: config, avatars: setup.avatars, presets: setup.presets,
                                  makeOutput: setup.makeOutput, readiness: setup.readiness, logger: logger)
        let serverTask = Task { try await server.run(handleSignals: false) }
        defer { serverTask.cancel() }
        let ports = await server.waitUntilListening()
        let url = "ws://127.0.0.1:\(ports.publicPort)/v1/session"
        FileHandle.standardError.write(Data("bench session: \(sessions) × \(String(format: "%.0f", seconds)) s of speech at real time to '\(avatarName)' (\(output))\n".utf8))

        let client = StreamingClient(url: url, logger: logger)
        let start = SessionStart(avatar: avatarName, output: output)
        let results = try await withThrowingTaskGroup(of: (Int, ClientResult).self) { group in
            for i in 0..<sessions {
                group.addTask { (i, try await client.run(start: start, packets: packets, pacing: .realtime)) }
            }
            var out: [(Int, ClientResult)] = []
            for try await r in group { out.append(r) }
            return out.sorted { $0.0 < $1.0 }.map(\.1)
        }
        await server.shutdown()
        _ = try? await serverTask.value

        return results.map { result in
            let stats = result.messages.compactMap { m -> ServerMessage.Stats? in
                if case .stats(let s) = m { return s } else { return nil }
            }
            // The first seconds include pipeline start-up (encoder, first windows): skip them for the p95.
            let steady = stats.count > 4 ? Array(stats.dropFirst(2)) : stats
            let ended = result.ended
            let frames = ended?.frames ?? stats.last?.framesRendered ?? 0
            let mediaSeconds = Double(ended?.durationMs ?? 0) / 1000
            let id = result.ready?.sessionID ?? "?"
            let file = (config.outputDirectory as NSString).appendingPathComponent("\(id).mp4")
            let decodes = output.hasPrefix("file") ? (try? MediaProbe(path: file, audio: false)).map { !$0.frames.isEmpty } : nil
            return SessionFigures(
                session: id, frames: frames, framesDropped: ended?.framesDropped ?? stats.last?.framesDropped ?? 0,
                mediaSeconds: mediaSeconds, fps: mediaSeconds > 0 ? Double(frames) / mediaSeconds : 0,
                latencyMsP50: median(steady.map(\.latencyMsP50)), latencyMsP95: median(steady.map(\.latencyMsP95)),
                latencyMsP95Worst: steady.map(\.latencyMsP95).max() ?? 0, outputDelayMs: result.ready?.latencyMs ?? 0,
                closeCode: Int(result.closeCode ?? 0), fileDecodes: decodes)
        }
    }

    private func speechPackets() throws -> [ClientPacket] {
        // Repeated to fill --seconds, cut at the first packet past it.
        var packets: [ClientPacket] = []
        var total = 0
        for p in try BenchSpeech.packets(audio: audio, seconds: seconds) where Double(total) / 48000 < seconds {
            packets.append(p)
            total += p.duration48k
        }
        return packets
    }

    private func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let s = values.sorted()
        return s[s.count / 2]
    }

    private func report(_ figures: [SessionFigures], config: DaemonConfig) {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            if let data = try? encoder.encode(figures) { print(String(decoding: data, as: UTF8.self)) }
            return
        }
        print("session                frames  dropped  media s   fps    p50 ms  p95 ms  worst p95  close  file")
        for f in figures {
            let file = f.fileDecodes.map { $0 ? "decodes" : "BROKEN" } ?? "-"
            print("\(f.session.padding(toLength: 22, withPad: " ", startingAt: 0)) \(pad(f.frames, 6))  \(pad(f.framesDropped, 7))  "
                  + "\(String(format: "%7.2f", f.mediaSeconds))  \(String(format: "%5.2f", f.fps))  \(String(format: "%6.1f", f.latencyMsP50))  "
                  + "\(String(format: "%6.1f", f.latencyMsP95))  \(String(format: "%9.1f", f.latencyMsP95Worst))  \(pad(f.closeCode, 5))  \(file)")
        }
        let delays = Set(figures.map(\.outputDelayMs)).sorted().map(String.init).joined(separator: "/")
        print("output delay \(delays) ms; latency = audio arrival → frame handed to the encoder, per-second p95 from the daemon's stats")
    }

    private func pad(_ v: Int, _ n: Int) -> String {
        let s = String(v)
        return String(repeating: " ", count: max(0, n - s.count)) + s
    }
}

import ArgumentParser
import AvatarClient
import AvatarConfig
import AvatarMedia
import AvatarProtocol
import AvatarServer
import Foundation
import Logging

/// `avatard bench soak`: the daemon in this process on loopback, serving one session after another for
/// `--minutes`, alternating a live (RTP) and a file session, each speech then silence then speech, fed at
/// real time. Reports what a long run does to the daemon: frames dropped, the audio-to-frame latency
/// percentiles (the daemon's stats), resident memory growth per hour (a least-squares slope over the run),
/// and the A/V offset of the file outputs at the start and at the end of the run, measured from the
/// files themselves: the lag that best aligns the decoded audio's envelope with the picture's motion.
struct BenchSoakCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Long run of alternating live and file sessions: drops, latency, RSS growth, A/V offset from the output.")

    @Option(name: .long, help: "Minutes to run.")
    var minutes: Double = 60

    @Option(name: .long, help: "Avatar name.")
    var avatar: String = "demo"

    @Option(name: .long, help: "Speech (any file GStreamer decodes); default: synthesized with espeak-ng.")
    var audio: String?

    @Option(name: .long, help: "Seconds of silence between the two halves of each session's speech.")
    var silence: Double = 4

    @Option(name: .long, help: "Live output preset.")
    var live: String = "rtp-h264"

    @Option(name: .long, help: "Configuration file (device, avatars, presets).")
    var config: String?

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        guard minutes > 0 && minutes <= 24 * 60 else { throw ValidationError("--minutes must be in (0, 1440]") }
    }

    struct Figures: Codable {
        var minutes: Double
        var sessions: Int
        var liveSessions: Int
        var fileSessions: Int
        var frames: Int
        var framesDropped: Int
        var latencyMsP50: Double
        var latencyMsP95: Double
        var latencyMsMaxP95: Double
        var rssStartMB: Double
        var rssEndMB: Double
        var rssGrowthMBPerHour: Double
        var avOffsetStartMs: Double?
        var avOffsetEndMs: Double?
        var failures: [String]

        enum CodingKeys: String, CodingKey {
            case minutes, sessions, frames, failures
            case liveSessions = "live_sessions", fileSessions = "file_sessions", framesDropped = "frames_dropped"
            case latencyMsP50 = "latency_ms_p50", latencyMsP95 = "latency_ms_p95", latencyMsMaxP95 = "latency_ms_max_p95"
            case rssStartMB = "rss_start_mb", rssEndMB = "rss_end_mb", rssGrowthMBPerHour = "rss_growth_mb_per_hour"
            case avOffsetStartMs = "av_offset_start_ms", avOffsetEndMs = "av_offset_end_ms"
        }
    }

    func run() async throws {
        var config = try ConfigFile.load(self.config)
        config.listen = ListenAddress(host: "127.0.0.1", port: 0)
        config.adminListen = ListenAddress(host: "127.0.0.1", port: 0)
        let outputDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("avatard-soak-\(getpid())")
        config.outputDirectory = outputDirectory.path
        var logConfig = config.log
        logConfig.level = "warning"
        let logger = LogSetup.bootstrap(logConfig)
        defer { try? FileManager.default.removeItem(at: outputDirectory) }

        let setup = try DaemonSetup.prepare(config: config, logger: logger)
        guard setup.avatars[avatar] != nil else {
            throw ValidationErrorMessage("no avatar named '\(avatar)' is loaded (loaded: \(setup.avatars.names.joined(separator: ", ")))")
        }
        let speech = try BenchSpeech.packets(audio: audio, seconds: 0)
        let quiet = try OpusEncoder(sampleRate: 48000, bitrate: 32000, voice: false)
            .encodePackets([Float](repeating: 0, count: Int(silence * 48000))).map { ClientPacket(data: $0, duration48k: 960) }
        let packets = speech + quiet + speech

        let server = DaemonServer(config: config, avatars: setup.avatars, presets: setup.presets,
                                  makeOutput: setup.makeOutput, readiness: setup.readiness, logger: logger)
        let serverTask = Task { try await server.run(handleSignals: false) }
        defer { serverTask.cancel() }
        let ports = await server.waitUntilListening()
        let client = StreamingClient(url: "ws://127.0.0.1:\(ports.publicPort)/v1/session", logger: logger)

        let clock = ContinuousClock()
        let start = clock.now
        let end = start + .milliseconds(Int64(minutes * 60_000))
        var rss: [(Double, Double)] = [(0, Self.residentMB())]
        var figures = Figures(minutes: minutes, sessions: 0, liveSessions: 0, fileSessions: 0, frames: 0, framesDropped: 0,
                              latencyMsP50: 0, latencyMsP95: 0, latencyMsMaxP95: 0, rssStartMB: rss[0].1, rssEndMB: 0,
                              rssGrowthMBPerHour: 0, failures: [])
        var p50s: [Double] = []
        var p95s: [Double] = []
        var offsets: [Double] = []
        FileHandle.standardError.write(Data("bench soak: \(minutes) min of alternating \(live) and file-mp4 sessions to '\(avatar)'\n".utf8))
        while clock.now < end {
            let isLive = figures.sessions % 2 == 0
            let result = try await client.run(start: SessionStart(avatar: avatar, output: isLive ? live : "file-mp4"),
                                              packets: packets, pacing: .realtime)
            figures.sessions += 1
            if isLive { figures.liveSessions += 1 } else { figures.fileSessions += 1 }
            if result.closeCode != 1000 { figures.failures.append("session \(figures.sessions): close \(result.closeCode ?? 0)") }
            let stats = result.messages.compactMap { m -> ServerMessage.Stats? in if case .stats(let s) = m { s } else { nil } }
            let steady = stats.count > 4 ? Array(stats.dropFirst(2)) : stats
            p50s += steady.map(\.latencyMsP50)
            p95s += steady.map(\.latencyMsP95)
            figures.frames += result.ended?.frames ?? 0
            figures.framesDropped += result.ended?.framesDropped ?? 0
            if !isLive, let id = result.ready?.sessionID {
                let file = outputDirectory.appendingPathComponent("\(id).mp4").path
                if let offset = try? Self.avOffsetMs(file: file) { offsets.append(offset) }
                try? FileManager.default.removeItem(atPath: file)
            }
            rss.append((Self.seconds(clock.now - start) / 3600, Self.residentMB()))
        }
        await server.shutdown()
        _ = try? await serverTask.value

        figures.latencyMsP50 = Self.median(p50s)
        figures.latencyMsP95 = Self.median(p95s)
        figures.latencyMsMaxP95 = p95s.max() ?? 0
        figures.rssEndMB = rss.last?.1 ?? 0
        // Slope after the first sessions (start-up allocations, caches) so growth means a leak.
        figures.rssGrowthMBPerHour = Self.slope(rss.count > 4 ? Array(rss.dropFirst(2)) : rss)
        figures.avOffsetStartMs = offsets.first
        figures.avOffsetEndMs = offsets.last
        report(figures)
    }

    private func report(_ f: Figures) {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            if let data = try? encoder.encode(f) { print(String(decoding: data, as: UTF8.self)) }
            return
        }
        print(String(format: "soak %.1f min: %d sessions (%d live, %d file), %d frames, %d dropped (%.3f %%)",
                     f.minutes, f.sessions, f.liveSessions, f.fileSessions, f.frames, f.framesDropped,
                     f.frames > 0 ? 100 * Double(f.framesDropped) / Double(f.frames) : 0))
        print(String(format: "latency audio→frame: p50 %.1f ms, p95 %.1f ms (worst per-second p95 %.1f ms)", f.latencyMsP50, f.latencyMsP95, f.latencyMsMaxP95))
        print(String(format: "RSS %.1f → %.1f MB, growth %.2f MB/h", f.rssStartMB, f.rssEndMB, f.rssGrowthMBPerHour))
        let fmt = { (x: Double?) in x.map { String(format: "%+.0f ms", $0) } ?? "n/a" }
        print("A/V offset from the files (picture motion vs audio envelope): start \(fmt(f.avOffsetStartMs)), end \(fmt(f.avOffsetEndMs))")
        if !f.failures.isEmpty { print("failures: \(f.failures.joined(separator: "; "))") }
    }

    /// The lag (ms, positive: picture after sound) that maximizes the correlation between the audio's
    /// per-frame RMS and the picture's per-frame motion (mean absolute luma change) in a file.
    static func avOffsetMs(file: String) throws -> Double {
        let probe = try MediaProbe(path: file)
        let frames = probe.frames
        guard frames.count > 50, let fps = probe.videoStream?.duration.map({ Double(frames.count) / $0 }), fps > 0 else {
            throw ValidationErrorMessage("\(file): too short to measure")
        }
        let perFrame = Int(16000 / fps)
        var envelope: [Double] = []
        var motion: [Double] = [0]
        for k in 0..<frames.count {
            let a = min(probe.audio.count, k * perFrame), b = min(probe.audio.count, (k + 1) * perFrame)
            envelope.append(b > a ? (probe.audio[a..<b].reduce(0) { $0 + Double($1 * $1) } / Double(b - a)).squareRoot() : 0)
            if k > 0 {
                let x = frames[k].luma, y = frames[k - 1].luma
                var d = 0
                for i in stride(from: 0, to: min(x.count, y.count), by: 7) { d += abs(Int(x[i]) - Int(y[i])) }
                motion.append(Double(d))
            }
        }
        var best = (lag: 0, score: -Double.infinity)
        for lag in -8...8 {
            let score = correlation(envelope, motion, lag: lag)
            if score > best.score { best = (lag, score) }
        }
        return Double(best.lag) * 1000 / fps
    }

    /// Pearson correlation of a[i] with b[i + lag].
    static func correlation(_ a: [Double], _ b: [Double], lag: Int) -> Double {
        let pairs = a.indices.compactMap { i -> (Double, Double)? in
            let j = i + lag
            return j >= 0 && j < b.count ? (a[i], b[j]) : nil
        }
        guard pairs.count > 10 else { return -.infinity }
        let n = Double(pairs.count)
        let ma = pairs.reduce(0) { $0 + $1.0 } / n, mb = pairs.reduce(0) { $0 + $1.1 } / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for (x, y) in pairs { sab += (x - ma) * (y - mb); saa += (x - ma) * (x - ma); sbb += (y - mb) * (y - mb) }
        return saa > 0 && sbb > 0 ? sab / (saa * sbb).squareRoot() : -.infinity
    }

    static func residentMB() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = text.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return 0 }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
    }

    /// Least-squares slope of (hours, MB).
    static func slope(_ points: [(Double, Double)]) -> Double {
        guard points.count > 1 else { return 0 }
        let n = Double(points.count)
        let mx = points.reduce(0) { $0 + $1.0 } / n, my = points.reduce(0) { $0 + $1.1 } / n
        let sxy = points.reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }, sxx = points.reduce(0) { $0 + ($1.0 - mx) * ($1.0 - mx) }
        return sxx > 0 ? sxy / sxx : 0
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        return values.sorted()[values.count / 2]
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
}

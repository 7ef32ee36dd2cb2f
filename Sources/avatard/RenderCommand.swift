import ArgumentParser
import AvatarConfig
import AvatarMedia
import AvatarPipeline
import AvatarStages
import Foundation
import Logging

struct RenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render an audio file offline through the same pipeline as a session.",
        discussion: "Writes a video (--out) and/or the per-frame motion coefficients (--motion-out, CSV with a header row). Avatars with only audio and motion stages can write motion without video.")

    @Option(name: .long, help: "Avatar name (loaded from the avatars directories) or a bundle directory.")
    var avatar: String

    @Option(name: .long, help: "Any audio file GStreamer can decode.")
    var audio: String

    @Option(name: .long, help: "Output video file (.mp4 or .mkv).")
    var out: String?

    @Option(name: .customLong("motion-out"), help: "Write per-frame motion coefficients as CSV.")
    var motionOut: String?

    @Option(name: .long, help: "Style clip of the avatar (default: the bundle's default style).")
    var style: String?

    @Option(name: .long, help: "Seed of the motion model's noise.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Scale of the initial noise (0 = deterministic); the bundle's temperature_dims keep their factor on it.")
    var temperature: Float?

    @Option(name: .long, help: "Number of midpoint ODE steps (the bundle's `steps` counts grid points: steps + 1; default: the bundle's).")
    var steps: Int?

    @Option(name: .customLong("cfg-scale"), help: "Classifier-free guidance scale on the style prompt.")
    var cfgScale: Float?

    @Option(name: .long, help: "Motion window: stream (sliding window, as live sessions) or full (whole utterance as upstream computes it offline: HuBERT in utterance mode, rows padded to 8, one sample).")
    var window: String = "stream"

    @Option(name: .long, help: "Head pose of avatars that have one (MimicTalk): avatar (the bundle's pose source) or static (its reference pose).")
    var pose: String = "avatar"

    @Option(name: .long, help: "Configuration file (avatars directory, presets).")
    var config: String?

    func validate() throws {
        guard out != nil || motionOut != nil else { throw ValidationError("give --out, --motion-out or both") }
        guard window == "stream" || window == "full" else { throw ValidationError("--window must be stream or full") }
        guard pose == "avatar" || pose == "static" else { throw ValidationError("--pose must be avatar or static") }
        if let steps, !(1...100).contains(steps) { throw ValidationError("--steps must be 1…100 midpoint steps, got \(steps)") }
    }

    func run() async throws {
        let config = try ConfigFile.load(self.config)
        var logConfig = config.log
        logConfig.level = "warning"
        let logger = LogSetup.bootstrap(logConfig)
        do {
            try await render(config: config, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("avatard: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    private func render(config: DaemonConfig, logger: Logger) async throws {
        GStreamerRuntime.initialize()
        let compute = try DaemonSetup.openDevice(config: config)
        let avatar = try AvatarResolver.resolve(self.avatar, config: config, context: compute, logger: logger)
        if let style, !avatar.styles.contains(style) {
            throw ValidationErrorMessage("avatar '\(avatar.name)' has no style '\(style)' (styles: \(avatar.styles.joined(separator: ", ")))")
        }
        if out != nil && !avatar.rendersVideo {
            throw ValidationErrorMessage("avatar '\(avatar.name)' has no renderer; use --motion-out only")
        }
        var packets = try AudioFileReader.opusPackets(path: audio)
        guard !packets.isEmpty else { throw ValidationErrorMessage("\(audio): no audio") }

        // The output: a file preset with this file as its location.
        let presetName = (out.map { ($0 as NSString).pathExtension.lowercased() } == "mkv") ? "file-mkv" : "file-mp4"
        guard let presetsDirectory = config.presetsDirectory ?? DataPaths.pipelines else {
            throw ValidationErrorMessage("cannot find the Pipelines/ directory; set AVATARD_DATA_DIR")
        }
        let presets = PresetCatalog.load(directory: presetsDirectory, operatorPresets: config.presets)
        guard let preset = presets[presetName] else { throw ValidationErrorMessage("preset \(presetName) is not available") }
        var pipeline = ResolvedPipeline(text: "")
        if let out {
            let absolute = URL(fileURLWithPath: out).path
            pipeline = try preset.resolve(clientOptions: [:], daemonValues: [
                "location": "\"" + absolute.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\"",
                "session_id": "render", "width": String(avatar.width), "height": String(avatar.height),
                "fps": String(avatar.fps), "keyframe_interval": String(avatar.fps * 2)])
        }
        let options = SessionStageOptions(style: style ?? avatar.defaultStyle, seed: seed, temperature: temperature,
                                          steps: steps.map { $0 + 1 }, cfgScale: cfgScale, fullWindow: window == "full",
                                          pose: pose == "static" ? .reference : .avatar)
        var plan = SessionPlan(sessionID: "render", avatar: avatar, stageOptions: options, preset: preset, pipeline: pipeline.text,
                               pipelineBindings: pipeline.bindings, outputFile: out, outputDelayMs: 0, maxBufferSeconds: 30, motionOnly: out == nil)
        // Full window reproduces upstream's offline result: the stages read the file's own samples, not Opus's.
        if window == "full" {
            let source = try AudioFileReader.pcm(path: audio, rate: 16000)
            plan.sourceAudio = source
            // The session covers the file's frames, not the packet the encoder's look-ahead adds after them.
            packets = Array(packets.prefix(max(1, (source.count + 319) / 320)))
        }

        let csv = try motionOut.map { try MotionCSVWriter(path: $0, names: avatar.motionNames, fps: avatar.fps) }
        let bar = ProgressReporter(label: "rendering")
        let start = Date()
        let ended = try await OfflineRender.run(
            plan: plan, packets: packets, makeOutput: GStreamerSessionOutput.factory(allowedElements: ElementAllowlist.standard),
            logger: logger, onMotion: { csv?.write($0) }, progress: { bar.update($0.frames, of: $0.totalFrames) })
        try csv?.close()
        bar.finish()
        let seconds = Date().timeIntervalSince(start)
        var written: [String] = []
        if let out { written.append(out) }
        if let motionOut { written.append(motionOut) }
        print("rendered \(ended.frames) frames (\(String(format: "%.2f", Double(ended.durationMs) / 1000)) s) in \(String(format: "%.1f", seconds)) s → \(written.joined(separator: ", "))")
    }
}

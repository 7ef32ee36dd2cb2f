import AvatarConfig
import AvatarProtocol
import AvatarStages
import Foundation

/// Validates a `session.start` against the loaded avatars and presets and builds the session's plan.
/// Every rejection carries the protocol's close code.
public struct SessionPlanner: Sendable {
    public let avatars: AvatarRegistry
    public let presets: PresetCatalog
    public let config: DaemonConfig

    public init(avatars: AvatarRegistry, presets: PresetCatalog, config: DaemonConfig) {
        self.avatars = avatars
        self.presets = presets
        self.config = config
    }

    public func plan(_ start: SessionStart, sessionID: String) throws(ProtocolViolation) -> SessionPlan {
        try start.validateAudio()
        guard let avatar = avatars[start.avatar] else {
            let known = avatars.names.isEmpty ? "none are loaded" : "loaded: \(avatars.names.joined(separator: ", "))"
            throw ProtocolViolation(.unknownAvatar, "no avatar named '\(start.avatar)' (\(known))")
        }
        if let style = start.style, !avatar.styles.contains(style) {
            throw ProtocolViolation(.unknownAvatar, "avatar '\(avatar.name)' has no style clip '\(style)' (styles: \(avatar.styles.joined(separator: ", ")))")
        }
        guard avatar.rendersVideo else {
            throw ProtocolViolation(.unsupported, "avatar '\(avatar.name)' produces motion only; sessions need a video avatar")
        }
        guard let preset = presets[start.output] else {
            throw ProtocolViolation(.unknownOutput, "no output preset named '\(start.output)' (presets: \(presets.names.joined(separator: ", ")))")
        }
        var clientOptions: [String: String] = [:]
        for (key, value) in start.outputOptions ?? [:] {
            if case .null = value { continue }
            clientOptions[key] = value.description
        }
        var daemonValues = [
            "session_id": sessionID,
            "width": String(avatar.width),
            "height": String(avatar.height),
            "fps": String(avatar.fps),
            "keyframe_interval": String(avatar.fps * 2),
        ]
        var outputFile: String?
        if preset.writesFile {
            let directory = URL(fileURLWithPath: config.outputDirectory, isDirectory: true)
            let file = directory.appendingPathComponent("\(sessionID).\(preset.fileExtension)").path
            outputFile = file
            daemonValues["location"] = try PresetOption(name: "location", kind: .string(maxLength: 4096), defaultValue: "",
                                                        clientSettable: false).renderLocation(file)
        }
        let pipeline: ResolvedPipeline
        do {
            pipeline = try preset.resolve(clientOptions: clientOptions, daemonValues: daemonValues)
        } catch {
            throw ProtocolViolation(.unsupported, "output_options rejected: \(error)")
        }
        return SessionPlan(sessionID: sessionID, avatar: avatar,
                           stageOptions: SessionStageOptions(style: start.style ?? avatar.defaultStyle,
                                                             seed: UInt64.random(in: 0...UInt64.max)),
                           preset: preset, pipeline: pipeline.text, pipelineBindings: pipeline.bindings, outputFile: outputFile,
                           outputDelayMs: Self.outputDelay(configured: config.outputDelayMs, avatar: avatar),
                           maxBufferSeconds: config.limits.maxBufferSeconds)
    }

    /// The live output delay: the configured one, raised to the avatar's algorithmic latency plus one frame and
    /// a compute margin of 100 ms when that is longer (a shorter delay would make every window an underrun).
    static func outputDelay(configured: Int, avatar: any Avatar) -> Int {
        let needed = avatar.algorithmicLatencyMs > 0 ? avatar.algorithmicLatencyMs + 1000 / avatar.fps + 100 : 0
        return max(configured, needed)
    }
}

extension PresetOption {
    fileprivate func renderLocation(_ path: String) throws(ProtocolViolation) -> String {
        do {
            return try render(path)
        } catch {
            throw ProtocolViolation(.internal, "output path cannot be used: \(error)")
        }
    }
}

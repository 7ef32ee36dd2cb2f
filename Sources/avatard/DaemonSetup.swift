import AvatarConfig
import AvatarMedia
import AvatarOperators
import AvatarPipeline
import AvatarRenderer
import AvatarServer
import AvatarVulkan
import Foundation
import Logging

/// Everything `serve` prepares before listening: presets checked by GStreamer, avatars loaded, the output
/// directory, and the readiness reasons that remain.
struct DaemonSetup {
    var presets: PresetCatalog
    var avatars: AvatarRegistry
    var makeOutput: SessionOutputFactory
    var readiness: Readiness
    /// The opened GPU (device, shaders, operators) shared by every avatar's models, once per replica.
    var compute: [ComputeContext]
    /// Admission by measured cost (`[limits] capacity_headroom`).
    var capacity: CapacityModel

    static func prepare(config: DaemonConfig, logger: Logger) throws -> DaemonSetup {
        let readiness = Readiness()

        // Device policy first: a mismatch refuses to start instead of silently running on the CPU driver.
        let compute = try openDevices(config: config)
        let device = compute[0].device.info
        MetricsSetup.recordDevice(name: device.name, type: device.type.rawValue, driver: device.driverName, api: device.apiVersion)
        logger.notice("vulkan device", metadata: ["gpu.device": "\(device.name)", "gpu.type": "\(device.type.rawValue)",
                                                  "gpu.driver": "\(device.driverInfo)", "gpu.replicas": "\(compute.count)"])
        if device.type == .cpu && config.device.requireDeviceType == "any" {
            logger.warning("running on the CPU Vulkan driver; set [device] require_device_type to make this explicit")
        }
        GStreamerRuntime.initialize()
        logger.info("gstreamer", metadata: ["gst.version": "\(GStreamerRuntime.version)"])
        let allowed = ElementAllowlist.standard.union(config.extraAllowedElements)

        // Presets: a broken built-in is reported and not offered; a broken operator preset is a config error.
        guard let directory = config.presetsDirectory ?? DataPaths.pipelines else {
            throw ConfigError(file: config.file ?? "(defaults)", line: 0, key: "output.presets_directory",
                              message: "cannot find the Pipelines/ directory shipped with avatard; set output.presets_directory or AVATARD_DATA_DIR")
        }
        var presets = PresetCatalog.load(directory: directory, operatorPresets: config.presets)
        for problem in presets.problems { logger.error("output preset skipped", metadata: ["error.message": "\(problem)"]) }
        for name in presets.names {
            guard let preset = presets[name] else { continue }
            if let problem = check(preset, allowed: allowed) {
                if config.presets.contains(where: { $0.name == name }) {
                    throw ConfigError(file: config.file ?? "(defaults)", line: preset.line, key: "output.presets.\(name).pipeline", message: problem)
                }
                presets.remove(name, problem: "\(preset.origin)\(preset.line > 0 ? ":\(preset.line)" : ""): \(problem)")
                logger.error("output preset skipped", metadata: ["preset": "\(name)", "error.message": "\(problem)"])
            }
        }
        if presets.names.isEmpty { readiness.set("presets", notReady: "no usable output preset") }
        logger.info("output presets", metadata: ["presets": "\(presets.names.joined(separator: ","))"])

        // File outputs need a writable directory.
        if presets.presets.values.contains(where: \.writesFile) {
            do {
                try FileManager.default.createDirectory(atPath: config.outputDirectory, withIntermediateDirectories: true)
                guard FileManager.default.isWritableFile(atPath: config.outputDirectory) else {
                    throw CocoaError(.fileWriteNoPermission)
                }
            } catch {
                readiness.set("outputs", notReady: "output directory \(config.outputDirectory) is not writable")
                logger.error("output directory not writable", metadata: ["path": "\(config.outputDirectory)"])
            }
        }

        // Avatars: every bundle that validates; the others are reported and skipped.
        var directories: [URL] = []
        if let d = config.avatarsDirectory { directories.append(URL(fileURLWithPath: d)) }
        if config.builtinAvatars, let builtin = DataPaths.builtinAvatars { directories.append(builtin) }
        let loaded = AvatarLoader.load(directories: directories, contexts: compute, logger: logger,
                                       rendererPrecision: RendererPrecision(rawValue: config.device.rendererPrecision) ?? .fp32)
        if loaded.avatars.isEmpty { readiness.set("avatars", notReady: "no avatar loaded") }
        let variants = PoseVariantAvatar.make(config.avatarVariants, of: loaded.avatars)
        for problem in variants.problems {
            logger.error("avatar variant skipped", metadata: ["error.message": "\(problem)"])
        }

        // Capacity: what one frame of each avatar costs here, measured with its real stages.
        var costs: [String: (cost: Duration, fps: Int)] = [:]
        if config.limits.capacityHeadroom < 1 {
            for avatar in loaded.avatars where avatar.rendersVideo {
                do {
                    let cost = try AvatarCostProbe.measure(avatar)
                    costs[avatar.name] = (cost, avatar.fps)
                    logger.info("avatar frame cost", metadata: ["avatar": "\(avatar.name)",
                                                                "frame_ms": "\(Double(cost.components.attoseconds) / 1e15 + Double(cost.components.seconds) * 1000)",
                                                                "fps": "\(avatar.fps)"])
                } catch {
                    logger.warning("avatar frame cost not measured; only max_sessions limits it",
                                   metadata: ["avatar": "\(avatar.name)", "error.message": "\(error)"])
                }
            }
        }
        // A variant's frames cost what its avatar's do.
        for case let variant as PoseVariantAvatar in variants.avatars { costs[variant.name] = costs[variant.base.name] }
        let capacity = CapacityModel(frameCosts: costs, replicas: compute.count, headroom: config.limits.capacityHeadroom)
        if let budget = capacity.budget {
            logger.notice("capacity", metadata: ["device_budget": "\(budget)",
                                                 "sessions_per_avatar": "\(capacity.loadPerSession.mapValues { min(config.limits.maxSessions, Int(budget / max($0, 1e-9))) })"])
        }

        return DaemonSetup(presets: presets, avatars: AvatarRegistry(loaded.avatars + variants.avatars),
                           makeOutput: GStreamerSessionOutput.factory(allowedElements: allowed,
                                                                      maxViewers: config.limits.maxViewersPerSession),
                           readiness: readiness,
                           compute: compute, capacity: capacity)
    }

    /// Opens the configured Vulkan device with its pipeline cache (`[device] cache_directory`, else systemd's
    /// `$CACHE_DIRECTORY`, else `$XDG_CACHE_HOME/avatard` or `~/.cache/avatard`).
    static func openDevice(config: DaemonConfig) throws -> ComputeContext {
        try openDevices(config: config, replicas: 1)[0]
    }

    /// The device opened `[device] replicas` times (default: 1 on GPUs, one per CPU core up to 4 on a CPU
    /// driver): each replica is a logical device with its own queue, so sessions on different replicas run
    /// in parallel where the driver has a single queue.
    static func openDevices(config: DaemonConfig, replicas: Int? = nil) throws -> [ComputeContext] {
        let requirement = DeviceRequirement(configValue: config.device.requireDeviceType, index: config.device.index,
                                            name: config.device.name)
        let env = ProcessInfo.processInfo.environment
        var cache: URL?
        if let d = config.device.cacheDirectory {
            cache = URL(fileURLWithPath: d)
        } else if let d = env["CACHE_DIRECTORY"]?.split(separator: ":").first {
            cache = URL(fileURLWithPath: String(d))
        } else if let d = env["XDG_CACHE_HOME"], !d.isEmpty {
            cache = URL(fileURLWithPath: d).appendingPathComponent("avatard")
        } else if let home = env["HOME"], !home.isEmpty {
            cache = URL(fileURLWithPath: home).appendingPathComponent(".cache/avatard")
        }
        if let cache { try? FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true) }
        let first = try ComputeContext(requirement: requirement, cacheDirectory: cache)
        let count = replicas ?? config.device.replicas
            ?? (first.device.info.type == .cpu ? min(4, max(1, ProcessInfo.processInfo.activeProcessorCount)) : 1)
        var contexts = [first]
        // The same physical device again (by index), not the preference order that might pick another.
        let again = DeviceRequirement(configValue: config.device.requireDeviceType, index: first.device.info.index, name: nil)
        for i in 1..<max(1, count) {
            // Only the first replica loads and saves the pipeline cache, so a replica that compiled fewer
            // pipelines never overwrites a fuller file.
            let replica = try ComputeContext(requirement: again, cacheDirectory: nil)
            let a = first.device.info, b = replica.device.info
            guard a.vendorID == b.vendorID, a.deviceID == b.deviceID, a.pipelineCacheUUID == b.pipelineCacheUUID else {
                throw ValidationErrorMessage("device replica \(i) opened \(b.name) (#\(b.index)), not the first replica's \(a.name) (#\(a.index)); set [device] replicas = 1")
            }
            contexts.append(replica)
        }
        return contexts
    }

    /// Parses a preset with its defaults (fatal errors on) and checks every element; nil when usable.
    static func check(_ preset: OutputPreset, allowed: Set<String>) -> String? {
        let daemonValues = ["location": "\"/dev/null\"", "session_id": "check", "width": "64", "height": "64",
                            "fps": "25", "keyframe_interval": "50"]
        do {
            let resolved = try preset.resolve(clientOptions: [:], daemonValues: daemonValues)
            let pipeline = try OutputPipeline(description: resolved.text, mode: preset.mode == .live ? .live : .offline,
                                              video: VideoFormat(width: 64, height: 64, fps: 25), name: "check-\(preset.name)",
                                              allowedElements: allowed, stringBindings: resolved.bindings)
            pipeline.abort()
            return nil
        } catch {
            return "\(error)"
        }
    }
}

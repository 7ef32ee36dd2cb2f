import ArgumentParser
import AvatarBundle
import AvatarFormats
import AvatarGraph
import AvatarMotion
import AvatarOperators
import AvatarVulkan
import Foundation

/// `avatard bench motion`: per-window time of the streaming audio front-end and ICS-A2M on the chosen Vulkan
/// device, for the demo avatar's configuration and for the full-size MimicTalk models (HuBERT-large,
/// 256-d 16-layer ICS-A2M), next to the PyTorch reference models doing the same work on the same machine in
/// the same run (tools/bench_motion.py). Weights come from the deterministic recipe: timing does not depend
/// on their values, so no checkpoint is needed.
struct BenchMotionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "motion",
        abstract: "Time streaming HuBERT / log-mel and ICS-A2M windows next to PyTorch doing the same work.")

    @Option(name: .long, help: "Configurations: demo, full or both, comma-separated.") var models = "demo,full"
    @Option(name: .long, help: "Timed A2M windows (after one planning window).") var windows = 6
    @Option(name: .long, help: "Timed HuBERT windows (after one warm-up).") var repeats = 3
    @Flag(name: .long, help: "Print JSON.") var json = false
    @Flag(name: .customLong("no-torch"), help: "Do not run the PyTorch baseline.") var noTorch = false
    @Option(name: .long, help: "Vulkan device index (default: the preferred device).") var device: Int?
    @Option(name: .long, help: "Require a device type: discrete | integrated | cpu | any.") var require = "any"
    @Option(name: .long, help: "Activation storage of the models on the graph: fp32, fp16 or both, comma-separated (fp16: fp16 intermediates, fp32 arithmetic; rows get a _fp16 suffix and are compared with fp32).")
    var activations = "fp32"

    /// One timed stage and what PyTorch is asked to do for the same window.
    struct Row {
        var name: String
        var description: String
        var rows: Int
        var hopSeconds: Double
        var seconds: Double
        var setupSeconds: Double
        var torchCase: [String: Any]?
        /// GPU seconds per network evaluation by step kind (A2M only).
        var gpuSteps: [String: Double] = [:]
        /// What the timed windows produced (features or motion coefficients), to compare fp16 with fp32 activations.
        var output: [Float] = []
        /// Activation arena bytes of the planned networks (0 where not on the graph).
        var arenaBytes = 0
    }

    /// The activation types asked for, with the row-name suffix of each.
    func activationKinds() throws -> [(suffix: String, type: GraphElementType)] {
        let names = activations.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty, Set(names).isSubset(of: ["fp32", "fp16"]) else {
            throw ValidationError("--activations takes fp32 and/or fp16, got '\(activations)'")
        }
        return names.map { $0 == "fp16" ? ("_fp16", .float16) : ("", .float32) }
    }

    func run() async throws {
        let selected = Set(models.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let unknown = selected.subtracting(["demo", "full"])
        guard unknown.isEmpty, !selected.isEmpty else {
            throw ValidationError("--models takes demo and/or full, got '\(models)'")
        }
        guard windows > 0, repeats > 0 else { throw ValidationError("--windows and --repeats must be positive") }
        _ = try activationKinds()
        let requirement = try DeviceRequirement(parsing: require, index: device)
        // A HuBERT-large window on the CPU driver takes seconds; allow it before calling the device hung.
        let dev = try VulkanDevice(requirement: requirement, fenceTimeout: .seconds(600))
        let ops = Operators(library: ShaderLibrary(device: dev))
        var rows: [Row] = []
        if selected.contains("demo") { rows += try demoRows(device: dev, ops: ops) }
        if selected.contains("full") { rows += try fullRows(device: dev, ops: ops) }
        let torch = noTorch ? nil : TorchBaseline.run(cases: rows.compactMap(\.torchCase))
        report(rows, torch: torch, device: dev)
    }

    // MARK: cases

    private func progress(_ text: String) { FileHandle.standardError.write(Data("bench: \(text)…\n".utf8)) }

    /// The shipped demo avatar's configuration: log-mel on the CPU, the small ICS-A2M with its manifest's
    /// sampler and streaming plan, and its default style clip's length.
    private func demoRows(device: VulkanDevice, ops: Operators) throws -> [Row] {
        guard let root = DataPaths.root() else { throw ValidationError("the demo avatar (Avatars/demo) was not found") }
        let manifestURL = root.appendingPathComponent("Avatars/demo/manifest.json")
        let data = try Data(contentsOf: manifestURL)
        let manifest = try JSONDecoder().decode(BundleManifest.self, from: data)
        let raw = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let rawMotion = (raw?["motion_model"] as? [String: Any])?["config"] as? [String: Any] ?? [:]
        let config = try ICSA2MConfig(manifest: manifest.motionModel?.config)
        let melConfig = try LogMelConfig(manifest: manifest.audioFrontend?.config)
        let hop = Double(config.streamHop) / 25
        // The default style clip's length sets the window's prompt rows.
        var styleFrames = 50
        if let style = manifest.styles?.first(where: { $0.name == manifest.defaultStyle }) ?? manifest.styles?.first {
            let file = try SafeTensorsFile(url: root.appendingPathComponent("Avatars/demo").appendingPathComponent(style.file))
            styleFrames = try file.tensor(style.motionTensor).shape.first ?? styleFrames
        }

        progress("demo log-mel front-end")
        let mel = LogMelFrontEnd(config: melConfig)
        let audio = RecipeWeights.generate(name: "bench.mel.audio", count: Int(hop * 16000) * (windows + 1), scale: 0.3)
        let hopSamples = Int(hop * 16000)
        var melRuns: [Double] = []
        for w in 0...windows {
            let t = Date()
            _ = mel.features(Array(audio[(w * hopSamples)..<((w + 1) * hopSamples)]))
            if w > 0 { melRuns.append(Date().timeIntervalSince(t)) }
        }
        var out = [Row(name: "demo_logmel", description: "log-mel 80 (CPU), one hop of audio", rows: 2 * config.streamHop,
                       hopSeconds: hop, seconds: Self.median(melRuns), setupSeconds: 0, torchCase: nil)]

        // The audio context samples the left context again (target rows); the motion context feeds it back as prompt.
        let context = config.streamContext == .audio ? 0 : config.streamLeftContext
        let prompt = styleFrames + context, targets = config.streamHop + config.streamLookahead + config.streamLeftContext - context
        for (suffix, type) in try activationKinds() {
            progress("demo ICS-A2M window (\(type.rawValue) activations)")
            let a2m = try A2MBenchmark.streamingWindow(config: config, styleFrames: styleFrames, windows: windows, device: device, ops: ops,
                                                       activations: type)
            out.append(Row(name: "demo_a2m" + suffix,
                           description: "ICS-A2M \(config.dim)-d \(config.depth) layers, \(config.steps) grid points (\(max(1, config.steps - 1)) midpoint steps), CFG \(config.cfgScale)\(suffix.isEmpty ? "" : ", fp16 activations")",
                           rows: a2m.rows, hopSeconds: hop, seconds: a2m.seconds, setupSeconds: a2m.setupSeconds,
                           torchCase: suffix.isEmpty ? ["name": "demo_a2m", "model": "ics_a2m", "config": rawMotion, "prompt": prompt, "targets": targets,
                                                        "steps": config.steps, "cfg_scale": Double(config.cfgScale)] : nil,
                           gpuSteps: a2m.gpuSteps, output: a2m.coefficients, arenaBytes: a2m.arenaBytes))
        }
        return out
    }

    /// The full-size MimicTalk models: HuBERT-large on the standard streaming window and the 256-d 16-layer
    /// ICS-A2M with the default sampler (4 steps, CFG 1.5) and streaming plan.
    private func fullRows(device: VulkanDevice, ops: Operators) throws -> [Row] {
        let window = HuBERTFeatureStage.Window.standard
        let hubertConfig = HuBERTConfig()
        progress("HuBERT-large window (\(window.rows) rows; building 315 M recipe weights first)")
        let started = Date()
        let weights = try HuBERTWeights(recipeFor: hubertConfig, device: device)
        let weightSeconds = Date().timeIntervalSince(started)
        var out: [Row] = []
        for (suffix, type) in try activationKinds() {
            progress("HuBERT-large window (\(type.rawValue) activations)")
            let hubert = try HuBERTBenchmark.streamingWindow(encoder: HuBERTEncoder(weights: weights, ops: ops, activations: type),
                                                             window: window, repeats: repeats)
            out.append(Row(name: "full_hubert" + suffix, description: "HuBERT-large 1024-d 24 layers\(suffix.isEmpty ? "" : ", fp16 activations")",
                           rows: hubert.rows, hopSeconds: Double(window.hop) / Double(hubertConfig.rowsPerSecond), seconds: hubert.seconds,
                           setupSeconds: hubert.setupSeconds + (out.isEmpty ? weightSeconds : 0),
                           torchCase: suffix.isEmpty ? ["name": "full_hubert", "model": "hubert", "config": [String: Any](), "samples": hubert.samples] : nil,
                           output: hubert.features, arenaBytes: hubert.arenaBytes))
        }

        var config = ICSA2MConfig()
        // As tools/convert.py writes it: the GEGLU width zero-padded to a multiple of 4 (682 → 684; exact).
        config.ffInner = (config.ffInner + 3) / 4 * 4
        for (suffix, type) in try activationKinds() {
            progress("full-size ICS-A2M window (\(type.rawValue) activations)")
            let a2m = try A2MBenchmark.streamingWindow(config: config, windows: windows, device: device, ops: ops, activations: type)
            out.append(Row(name: "full_a2m" + suffix,
                           description: "ICS-A2M \(config.dim)-d \(config.depth) layers, \(config.steps) grid points (\(max(1, config.steps - 1)) midpoint steps), CFG \(config.cfgScale)\(suffix.isEmpty ? "" : ", fp16 activations")",
                           rows: a2m.rows, hopSeconds: Double(config.streamHop) / 25, seconds: a2m.seconds, setupSeconds: a2m.setupSeconds,
                           torchCase: suffix.isEmpty ? ["name": "full_a2m", "model": "ics_a2m", "config": [String: Any](),
                                                        "prompt": 50 + config.streamLeftContext, "targets": config.streamHop + config.streamLookahead,
                                                        "steps": config.steps, "cfg_scale": Double(config.cfgScale)] : nil,
                           gpuSteps: a2m.gpuSteps, output: a2m.coefficients, arenaBytes: a2m.arenaBytes))
        }
        return out
    }

    static func median(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.sorted()[values.count / 2] }

    /// fp16-activation rows against their fp32 rows of the same run: max and mean |Δ| of the outputs, the largest
    /// fp32 magnitude, and the time ratio.
    static func halfComparisons(_ rows: [Row]) -> [(name: String, maxAbs: Double, meanAbs: Double, scale: Double, speed: Double,
                                                     arena: (fp32: Int, fp16: Int))] {
        rows.compactMap { half in
            guard half.name.hasSuffix("_fp16"), let full = rows.first(where: { $0.name == String(half.name.dropLast(5)) }),
                  full.output.count == half.output.count, !full.output.isEmpty else { return nil }
            let deltas = zip(half.output, full.output).map { abs(Double($0) - Double($1)) }
            let maxAbs = deltas.contains { $0.isNaN } ? Double.nan : deltas.max() ?? 0
            return (full.name, maxAbs, deltas.reduce(0, +) / Double(deltas.count), full.output.map { abs(Double($0)) }.max() ?? 0,
                    full.seconds / half.seconds, (full.arenaBytes, half.arenaBytes))
        }
    }

    // MARK: report

    private func report(_ rows: [Row], torch: TorchBaseline.Output?, device: VulkanDevice) {
        let cpus = ProcessInfo.processInfo.activeProcessorCount
        let cpu = BenchKernelsCommand.cpuModel()
        if json {
            let results: [[String: Any]] = rows.map { r in
                var row: [String: Any] = ["name": r.name, "description": r.description, "window_rows": r.rows,
                                          "hop_seconds": r.hopSeconds, "seconds": r.seconds, "share_of_hop": r.seconds / r.hopSeconds,
                                          "setup_seconds": r.setupSeconds, "gpu_seconds_per_evaluation": r.gpuSteps]
                if let s = torch?.seconds[r.name] {
                    row["torch_seconds"] = s
                    row["speed_vs_torch"] = s / r.seconds
                }
                return row
            }
            let comparisons: [[String: Any]] = Self.halfComparisons(rows).map {
                ["name": $0.name, "max_abs": $0.maxAbs, "mean_abs": $0.meanAbs, "max_abs_fp32": $0.scale, "speed_fp16_vs_fp32": $0.speed,
                 "arena_bytes_fp32": $0.arena.fp32, "arena_bytes_fp16": $0.arena.fp16]
            }
            let object: [String: Any] = [
                "fp16_vs_fp32": comparisons,
                "device": device.info.name, "device_type": device.info.type.rawValue, "driver": device.info.driverInfo,
                "cpus": cpus, "cpu": cpu, "torch": torch?.version ?? "not run", "torch_threads": torch?.threads ?? 0, "results": results,
            ]
            if let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) {
                print(String(decoding: data, as: UTF8.self))
            }
            return
        }
        print("device: \(device.info.name) [\(device.info.type.rawValue)], \(device.info.driverInfo)")
        print("host: \(cpu), \(cpus) CPUs; PyTorch \(torch.map { "\($0.version), \($0.threads) threads" } ?? "not run")")
        print("| stage | window rows | avatard per window | share of the hop | PyTorch | avatard / PyTorch speed |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in rows {
            let t = torch?.seconds[r.name]
            print("| \(r.description) | \(r.rows) | \(BenchKernelsCommand.format(r.seconds)) | "
                + String(format: "%.0f %% of %.0f ms", 100 * r.seconds / r.hopSeconds, r.hopSeconds * 1000)
                + " | \(t.map(BenchKernelsCommand.format) ?? "–") | \(t.map { String(format: "%.2f", $0 / r.seconds) } ?? "–") |")
        }
        for r in rows where !r.gpuSteps.isEmpty {
            let total = r.gpuSteps.values.reduce(0, +)
            let top = r.gpuSteps.sorted { $0.value > $1.value }.prefix(6)
                .map { "\($0.key) \(BenchKernelsCommand.format($0.value))" }.joined(separator: ", ")
            print("\(r.name): GPU time per network evaluation \(BenchKernelsCommand.format(total)) (\(top))")
        }
        for c in Self.halfComparisons(rows) {
            print(String(format: "%@ fp16 vs fp32 activations: max |Δ| %.3e, mean |Δ| %.3e (max |fp32| %.3g); fp32 time / fp16 time %.2f; arena %.1f → %.1f MB",
                         c.name, c.maxAbs, c.meanAbs, c.scale, c.speed, Double(c.arena.fp32) / 1e6, Double(c.arena.fp16) / 1e6))
        }
        let setups = rows.filter { $0.setupSeconds > 0 }.map { "\($0.name) \(String(format: "%.1f s", $0.setupSeconds))" }
        if !setups.isEmpty { print("setup (weights, planning, first window): " + setups.joined(separator: ", ")) }
    }

    /// Runs tools/bench_motion.py with Debian's /usr/bin/python3 (PyTorch) in the same run.
    enum TorchBaseline {
        struct Output { var version: String; var threads: Int; var seconds: [String: Double] }

        static func run(cases: [[String: Any]]) -> Output? {
            guard !cases.isEmpty, let json = try? JSONSerialization.data(withJSONObject: cases),
                  let object = PythonBaseline.run(script: "tools/bench_motion.py", arguments: ["--cases", String(decoding: json, as: UTF8.self)],
                                                  label: "PyTorch"),
                  let seconds = object["seconds"] as? [String: Double] else { return nil }
            return Output(version: object["torch"] as? String ?? "?", threads: object["threads"] as? Int ?? 0, seconds: seconds)
        }
    }
}

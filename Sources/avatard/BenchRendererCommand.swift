import ArgumentParser
import AvatarBundle
import AvatarOperators
import AvatarRenderer
import AvatarVulkan
import Foundation

/// `avatard bench renderer`: the MimicTalk renderer per frame and per module group (GPU timestamps) on a synthetic
/// person checkpoint of the official layout converted by tools/convert.py (or `--avatar DIR`), next to the PyTorch
/// reference doing the same frame on the same inputs on the same machine in the same run (tools/bench_renderer.py).
struct BenchRendererCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renderer",
        abstract: "Time the MimicTalk renderer per module group and per frame next to PyTorch doing the same frame.")

    @Option(name: .long, help: "full (512², the official sizes) or small (64², the test configuration).") var size = "full"
    @Option(name: .long, help: "A converted person bundle to time instead of the synthetic one (no PyTorch baseline).") var avatar: String?
    @Option(name: .long, help: "With --avatar: a directory of frame inputs (.npy, as `avatard renderer frame` reads them).") var inputs: String?
    @Option(name: .long, help: "Timed frames (after one warm-up frame).") var frames = 3
    @Option(name: .long, help: "Where the synthetic checkpoint, bundle and inputs are kept between runs.") var work = ".build/bench-renderer"
    @Flag(name: .long, help: "Print JSON.") var json = false
    @Flag(name: .long, help: "Also print GPU time per subgroup (two levels, e.g. sr/superresolution/block1).") var detail = false
    @Flag(name: .customLong("no-torch"), help: "Do not time the PyTorch reference.") var noTorch = false
    @Option(name: .long, help: "Vulkan device index (default: the preferred device).") var device: Int?
    @Option(name: .long, help: "Require a device type: discrete | integrated | cpu | any.") var require = "any"

    struct Figures: Codable {
        var device: String
        var size: Int
        var precision: String
        var frameSecondsMedian: Double
        var gpuSecondsPerGroup: [String: Double]
        var torchSeconds: [String: Double]?
        var speedupVsTorch: Double?
        enum CodingKeys: String, CodingKey {
            case device, size, precision, frameSecondsMedian = "frame_seconds_median", gpuSecondsPerGroup = "gpu_seconds_per_group"
            case torchSeconds = "torch_seconds", speedupVsTorch = "speedup_vs_torch"
        }
    }

    func run() async throws {
        guard frames > 0 else { throw ValidationError("--frames must be positive") }
        guard ["full", "small"].contains(size) else { throw ValidationError("--size takes full or small, got '\(size)'") }
        let bundleDir: URL, inputsDir: URL
        var torch: [String: Double]?
        if let avatar {
            guard let inputs else { throw ValidationError("--avatar needs --inputs DIR (the frame's .npy inputs)") }
            bundleDir = URL(fileURLWithPath: avatar)
            inputsDir = URL(fileURLWithPath: inputs)
        } else {
            guard let root = DataPaths.root() else { throw ValidationError("tools/ was not found; pass --avatar DIR") }
            let workURL = URL(fileURLWithPath: work, relativeTo: FileManager.default.currentDirectoryPath == root.path ? nil : root)
            var arguments = ["--work", workURL.path, "--size", size]
            if noTorch { arguments.append("--no-torch") }
            guard let result = PythonBaseline.run(script: "tools/bench_renderer.py", arguments: arguments, label: "PyTorch renderer"),
                  let bundle = result["bundle"] as? String, let inputs = result["inputs"] as? String else {
                throw ValidationError("tools/bench_renderer.py could not prepare the synthetic bundle (see above)")
            }
            bundleDir = URL(fileURLWithPath: bundle)
            inputsDir = URL(fileURLWithPath: inputs)
            let seconds = result["seconds"] as? [String: Double] ?? [:]
            torch = seconds.isEmpty ? nil : seconds
        }
        let dev = try VulkanDevice(requirement: try DeviceRequirement(parsing: require, index: device), fenceTimeout: .seconds(900))
        let ops = Operators(library: ShaderLibrary(device: dev))
        let bundle = try AvatarBundle(directory: bundleDir, supportedKinds: AvatarLoader.supportedKinds)
        FileHandle.standardError.write(Data("bench: loading \(bundle.name) and planning the frame graph…\n".utf8))
        let renderer = try MimicTalkRenderer(bundle: bundle, device: dev, ops: ops, timestamps: true)
        let inputs = try renderer.readInputs(inputsDir)
        FileHandle.standardError.write(Data("bench: warm-up frame…\n".utf8))
        _ = try renderer.frame(inputs)
        var times: [Double] = [], groups: [String: [Double]] = [:]
        for i in 0..<frames {
            FileHandle.standardError.write(Data("bench: frame \(i + 1)/\(frames)…\n".utf8))
            let start = Date()
            _ = try renderer.frame(inputs)
            times.append(Date().timeIntervalSince(start))
            for (group, seconds) in renderer.groupTimings(depth: detail ? 3 : 1) { groups[group, default: []].append(seconds) }
        }
        let median = times.sorted()[times.count / 2]
        let figures = Figures(device: dev.info.name, size: renderer.config.img, precision: "fp32", frameSecondsMedian: median,
                              gpuSecondsPerGroup: groups.mapValues { $0.sorted()[$0.count / 2] }, torchSeconds: torch,
                              speedupVsTorch: torch?["frame"].map { $0 / median })
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode([figures]), as: UTF8.self))
            return
        }
        print("MimicTalk renderer, \(figures.size)² frame, \(figures.precision), on \(figures.device)")
        print(String(format: "  frame (host, median of %d): %8.3f s", frames, median)
              + (torch?["frame"].map { String(format: "   PyTorch %8.3f s   ratio %.2f× PyTorch's speed", $0, $0 / median) } ?? ""))
        let totals = Dictionary(grouping: figures.gpuSecondsPerGroup, by: { String($0.key.split(separator: "/")[0]) })
            .mapValues { $0.reduce(0) { $0 + $1.value } }
        for group in ["adapter", "nerf", "sr_inputs", "torso", "sr"] {
            guard let gpu = totals[group] else { continue }
            print("  " + group.padding(toLength: 10, withPad: " ", startingAt: 0) + String(format: " GPU %8.3f s", gpu)
                  + (torch?[group].map { String(format: "   PyTorch %8.3f s", $0) } ?? ""))
            for (sub, seconds) in figures.gpuSecondsPerGroup.sorted(by: { $0.value > $1.value }) where sub.hasPrefix(group + "/") {
                print("    " + sub.padding(toLength: 40, withPad: " ", startingAt: 0) + String(format: " GPU %8.3f s", seconds))
            }
        }
    }
}

import ArgumentParser
import AvatarBundle
import AvatarOperators
import AvatarRenderer
import AvatarVulkan
import Foundation

/// `avatard bench renderer`: the MimicTalk renderer per frame and per module group (GPU timestamps) on a synthetic
/// person checkpoint of the official layout converted by tools/convert.py (or `--avatar DIR`), next to the PyTorch
/// reference doing the same frame on the same inputs on the same machine in the same run (tools/bench_renderer.py),
/// at fp32 and with fp16 activations (`RendererPrecision`), with the fp16 image's difference from the fp32 one.
struct BenchRendererCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renderer",
        abstract: "Time the MimicTalk renderer per module group and per frame next to PyTorch doing the same frame.")

    @Option(name: .long, help: "full (512², the official sizes) or small (64², the test configuration).") var size = "full"
    @Option(name: .long, help: "A converted person bundle to time instead of the synthetic one (no PyTorch baseline).") var avatar: String?
    @Option(name: .long, help: "With --avatar: a directory of frame inputs (.npy, as `avatard renderer frame` reads them).") var inputs: String?
    @Option(name: .long, help: "Timed frames (after one warm-up frame).") var frames = 3
    @Option(name: .long, help: "Where the synthetic checkpoint, bundle and inputs are kept between runs.") var work = ".build/bench-renderer"
    @Option(name: .long, help: "fp32, fp16 or both (fp16: fp16 activations, fp32 arithmetic).") var precision = "both"
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
        /// fp16 only: max and mean |image − the fp32 image| on the same inputs (when fp32 ran too).
        var imageMaxAbsVsFP32: Double?
        var imageMeanAbsVsFP32: Double?
        /// The frame graph's arena (with reuse) and the bytes its nodes write per frame.
        var arenaBytes: Int
        var writtenBytes: Int
        enum CodingKeys: String, CodingKey {
            case device, size, precision, frameSecondsMedian = "frame_seconds_median", gpuSecondsPerGroup = "gpu_seconds_per_group"
            case torchSeconds = "torch_seconds", speedupVsTorch = "speedup_vs_torch"
            case imageMaxAbsVsFP32 = "image_max_abs_vs_fp32", imageMeanAbsVsFP32 = "image_mean_abs_vs_fp32"
            case arenaBytes = "arena_bytes", writtenBytes = "written_bytes"
        }
    }

    func run() async throws {
        guard frames > 0 else { throw ValidationError("--frames must be positive") }
        guard ["full", "small"].contains(size) else { throw ValidationError("--size takes full or small, got '\(size)'") }
        let precisions: [RendererPrecision] = switch precision {
        case "both": [.fp32, .fp16]
        case "fp32": [.fp32]
        case "fp16": [.fp16]
        default: throw ValidationError("--precision takes fp32, fp16 or both, got '\(precision)'")
        }
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
        // Both graphs are planned first, so their memory is printed before the (long) frames.
        var renderers: [MimicTalkRenderer] = []
        for p in precisions {
            FileHandle.standardError.write(Data("bench: loading \(bundle.name) and planning the \(p.rawValue) frame graph…\n".utf8))
            let renderer = try MimicTalkRenderer(bundle: bundle, device: dev, ops: ops, timestamps: true, precision: p)
            let bytes = try renderer.activationBytes()
            FileHandle.standardError.write(Data(("bench: \(p.rawValue) activations: " + String(format: "arena %.1f MB, %.1f MB written per frame\n",
                                                       Double(bytes.arena) / 1e6, Double(bytes.written) / 1e6)).utf8))
            renderers.append(renderer)
        }
        var all: [Figures] = [], fp32Image: [Float]?
        for (p, renderer) in zip(precisions, renderers) {
            let inputs = try renderer.readInputs(inputsDir)
            FileHandle.standardError.write(Data("bench: \(p.rawValue) warm-up frame…\n".utf8))
            let image = try renderer.frame(inputs)["image"]!
            var times: [Double] = [], groups: [String: [Double]] = [:]
            for i in 0..<frames {
                FileHandle.standardError.write(Data("bench: \(p.rawValue) frame \(i + 1)/\(frames)…\n".utf8))
                let start = Date()
                _ = try renderer.frame(inputs)
                times.append(Date().timeIntervalSince(start))
                for (group, seconds) in renderer.groupTimings(depth: detail ? 3 : 1) { groups[group, default: []].append(seconds) }
            }
            let median = times.sorted()[times.count / 2]
            var figures = Figures(device: dev.info.name, size: renderer.config.img, precision: p.rawValue, frameSecondsMedian: median,
                                  gpuSecondsPerGroup: groups.mapValues { $0.sorted()[$0.count / 2] }, torchSeconds: torch,
                                  speedupVsTorch: torch?["frame"].map { $0 / median }, arenaBytes: try renderer.activationBytes().arena,
                                  writtenBytes: try renderer.activationBytes().written)
            if p == .fp32 { fp32Image = image }
            if p == .fp16, let reference = fp32Image {
                let deltas = zip(image, reference).map { Double(abs($0 - $1)) }
                figures.imageMaxAbsVsFP32 = deltas.max()
                figures.imageMeanAbsVsFP32 = deltas.reduce(0, +) / Double(max(1, deltas.count))
            }
            all.append(figures)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(all), as: UTF8.self))
            return
        }
        let first = all[0]
        print("MimicTalk renderer, \(first.size)² frame, on \(first.device) (median of \(frames) frames; GPU = timestamps per group)")
        let header = "  " + "".padding(toLength: 44, withPad: " ", startingAt: 0)
            + all.map { ($0.precision + " s").leftPadded(to: 10) }.joined() + (torch != nil ? "PyTorch s".leftPadded(to: 11) : "")
        print(header)
        func row(_ name: String, _ values: [Double?], torch: Double?) -> String {
            "  " + name.padding(toLength: 44, withPad: " ", startingAt: 0)
                + values.map { ($0.map { String(format: "%.3f", $0) } ?? "–").leftPadded(to: 10) }.joined()
                + (torch.map { String(format: "%.3f", $0).leftPadded(to: 11) } ?? "")
        }
        print(row("frame (host)", all.map(\.frameSecondsMedian), torch: torch?["frame"]))
        let totals = all.map { f in
            Dictionary(grouping: f.gpuSecondsPerGroup, by: { String($0.key.split(separator: "/")[0]) }).mapValues { $0.reduce(0) { $0 + $1.value } }
        }
        for group in ["inputs", "adapter", "nerf", "sr_inputs", "torso", "sr"] where totals.contains(where: { $0[group] != nil }) {
            print(row(group + " (GPU)", totals.map { $0[group] }, torch: torch?[group]))
            let subgroups = Set(all.flatMap { $0.gpuSecondsPerGroup.keys.filter { $0.hasPrefix(group + "/") } })
            for sub in subgroups.sorted(by: { (first.gpuSecondsPerGroup[$0] ?? 0) > (first.gpuSecondsPerGroup[$1] ?? 0) }) {
                print(row("  " + sub, all.map { $0.gpuSecondsPerGroup[sub] }, torch: nil))
            }
        }
        for f in all where f.speedupVsTorch != nil {
            print("  \(f.precision): " + String(format: "%.2f× PyTorch's speed", f.speedupVsTorch!))
        }
        for f in all {
            print("  \(f.precision) activations: " + String(format: "arena %.1f MB, %.1f MB written per frame", Double(f.arenaBytes) / 1e6,
                                                              Double(f.writtenBytes) / 1e6))
        }
        if let f = all.first(where: { $0.imageMaxAbsVsFP32 != nil }) {
            print(String(format: "  fp16 image vs fp32 image: max |Δ| %.2e, mean |Δ| %.2e", f.imageMaxAbsVsFP32!, f.imageMeanAbsVsFP32!))
        }
    }
}

private extension String {
    /// Right-aligned in `width` columns.
    func leftPadded(to width: Int) -> String { count >= width ? self + " " : String(repeating: " ", count: width - count) + self }
}

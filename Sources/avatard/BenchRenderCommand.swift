import ArgumentParser
import AvatarFace
import AvatarOperators
import AvatarStages
import AvatarVulkan
import Foundation

/// `avatard bench render`: the preview rasterizer of a face model (the demo head by default) frame by frame:
/// GPU time per pass from timestamps, and host time per frame (coefficients up, replay, I420 back). `--pose` adds
/// the head pose pass (the head turns and nods across the run).
struct BenchRenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Time the preview rasterizer per pass and per frame at one or more sizes.")

    @Option(name: .customLong("face"), help: "Face model file (default: the demo avatar's face.safetensors).")
    var facePath: String?
    @Option(name: .long, help: "Sizes and supersampling as SIZExSS, comma-separated.") var sizes = "256x1,384x2"
    @Option(name: .long, help: "Timed frames per size (after one warm-up frame).") var frames = 30
    @Flag(name: .long, help: "Also turn the head (head_pitch/head_yaw/head_roll through the face model's pose rig).") var pose = false
    @Flag(name: .long, help: "Print JSON.") var json = false
    @Option(name: .long, help: "Vulkan device index (default: the preferred device).") var device: Int?
    @Option(name: .long, help: "Require a device type: discrete | integrated | cpu | any.") var require = "any"

    struct Figures: Codable {
        var size: Int
        var supersampling: Int
        var hostMsMedian: Double
        var hostMsP95: Double
        var gpuMsPerPass: [String: Double]
        enum CodingKeys: String, CodingKey {
            case size, supersampling, hostMsMedian = "host_ms_median", hostMsP95 = "host_ms_p95", gpuMsPerPass = "gpu_ms_per_pass"
        }
    }

    func run() async throws {
        guard frames > 0 else { throw ValidationError("--frames must be positive") }
        let cases = try sizes.split(separator: ",").map { item -> (Int, Int) in
            let parts = item.lowercased().split(separator: "x").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 2, parts[0] > 0, parts[0] % 8 == 0, (1...4).contains(parts[1]) else {
                throw ValidationError("--sizes takes SIZExSS items (size a multiple of 8, ss 1…4), got '\(item)'")
            }
            return (parts[0], parts[1])
        }
        let url: URL
        if let facePath {
            url = URL(fileURLWithPath: facePath)
        } else if let root = DataPaths.root() {
            url = root.appendingPathComponent("Avatars/demo/face.safetensors")
        } else {
            throw ValidationError("the demo avatar (Avatars/demo) was not found; pass --face")
        }
        let dev = try VulkanDevice(requirement: try DeviceRequirement(parsing: require, index: device))
        let face = try FaceModel(url: url)
        let renderer = try FaceRenderer(face: face, device: dev, ops: Operators(library: ShaderLibrary(device: dev)))
        var results: [Figures] = []
        for (size, ss) in cases {
            FileHandle.standardError.write(Data("bench: \(size)² supersampling \(ss)…\n".utf8))
            let names = pose ? face.expNames + HeadRotation.motionNames : []
            let pass = try FaceRenderPass(renderer: renderer, width: size, height: size, supersampling: ss, motionNames: names,
                                          timestamps: true)
            var coefficients = [Float](repeating: 0, count: face.expCount + (pose ? 3 : 0))
            _ = try pass.render(MotionFrame(index: 0, coefficients: coefficients))
            var host: [Double] = []
            var gpu: [String: [Double]] = [:]
            for i in 0..<frames {
                // The mouth opens and closes across the run, so coverage changes as in speech.
                coefficients[0] = Float(0.5 - 0.5 * cos(Double(i) * 0.4))
                if pose {
                    coefficients[face.expCount] = Float(0.5 * sin(Double(i) * 0.3))
                    coefficients[face.expCount + 1] = Float(sin(Double(i) * 0.1))
                }
                let start = Date()
                _ = try pass.render(MotionFrame(index: i + 1, coefficients: coefficients))
                host.append(Date().timeIntervalSince(start) * 1000)
                for t in pass.passTimings() { gpu[t.label, default: []].append(t.seconds * 1000) }
            }
            host.sort()
            results.append(Figures(size: size, supersampling: ss, hostMsMedian: host[host.count / 2],
                                   hostMsP95: host[min(host.count - 1, host.count * 95 / 100)],
                                   gpuMsPerPass: gpu.mapValues { $0.sorted()[$0.count / 2] }))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(results), as: UTF8.self))
            return
        }
        print("device: \(dev.info.name) [\(dev.info.type.rawValue)]; face: \(face.vertexCount) vertices, \(face.triangleCount) triangles")
        let passes = ["vertices"] + (pose ? ["pose"] : []) + ["normals", "rasterize", "shade", "i420"]
        print("| size, supersampling | " + passes.joined(separator: " | ") + " | host per frame (median / p95) |")
        print("|---|" + passes.map { _ in "---:|" }.joined() + "---:|")
        for r in results {
            let cells = passes.map { r.gpuMsPerPass[$0].map { String(format: "%.2f ms", $0) } ?? "–" }
            print("| \(r.size)², \(r.supersampling) | " + cells.joined(separator: " | ")
                + String(format: " | %.1f / %.1f ms |", r.hostMsMedian, r.hostMsP95))
        }
        print("GPU times are medians of per-pass timestamps (none when the device has no timestamp queries).")
    }
}

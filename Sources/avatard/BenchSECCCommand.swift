import ArgumentParser
import AvatarFace
import AvatarOperators
import AvatarVulkan
import Foundation

/// `avatard bench secc`: the SECC map of a BFM face model (`convert.py face-model`) per frame, as a MimicTalk
/// session computes it (expression up, vertices, rasterize, SECC colours, the map back to the host for the renderer).
struct BenchSECCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secc",
        abstract: "Time the SECC map of a BFM face model per frame (MimicTalk avatars).")

    @Option(name: .customLong("face"), help: "face_model.safetensors of a MimicTalk bundle (kind bfm09_front).")
    var facePath: String
    @Option(name: .long, help: "Map size in pixels.") var size = 512
    @Option(name: .long, help: "Timed frames (after one warm-up frame).") var frames = 20
    @Flag(name: .long, help: "Print JSON.") var json = false
    @Option(name: .long, help: "Vulkan device index (default: the preferred device).") var device: Int?
    @Option(name: .long, help: "Require a device type: discrete | integrated | cpu | any.") var require = "any"

    struct Figures: Codable {
        var size: Int
        var vertices: Int
        var triangles: Int
        var hostMsMedian: Double
        var hostMsP95: Double
        enum CodingKeys: String, CodingKey {
            case size, vertices, triangles, hostMsMedian = "host_ms_median", hostMsP95 = "host_ms_p95"
        }
    }

    func run() async throws {
        guard frames > 0, size > 0 else { throw ValidationError("--frames and --size must be positive") }
        let dev = try VulkanDevice(requirement: try DeviceRequirement(parsing: require, index: device))
        let face = try BFMFaceModel(url: URL(fileURLWithPath: facePath))
        let ops = Operators(library: ShaderLibrary(device: dev))
        let identity = (0..<face.idCount).map { Float(sin(Double($0) * 0.7)) * 0.5 }
        let pass = try SECCPass(renderer: try SECCRenderer(face: face, identity: identity, size: size, device: dev, ops: ops))
        _ = try pass.render(exp: [Float](repeating: 0, count: face.expCount), firstFaceQuirk: true)
        var host: [Double] = []
        for i in 0..<frames {
            // A moving expression, as in speech.
            let exp = (0..<face.expCount).map { Float(sin(Double(i) * 0.4 + Double($0))) }
            let start = Date()
            _ = try pass.render(exp: exp, firstFaceQuirk: false)
            host.append(Date().timeIntervalSince(start) * 1000)
        }
        host.sort()
        let figures = Figures(size: size, vertices: face.vertexCount, triangles: face.seccTriangleCount,
                              hostMsMedian: host[host.count / 2], hostMsP95: host[min(host.count - 1, host.count * 95 / 100)])
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(figures), as: UTF8.self))
            return
        }
        print("device: \(dev.info.name) [\(dev.info.type.rawValue)]; face: \(face.vertexCount) vertices, "
              + "\(face.seccTriangleCount) SECC triangles")
        print(String(format: "SECC %d²: %.1f ms per frame median, %.1f ms p95 (host: expression up, replay, map back)",
                     size, figures.hostMsMedian, figures.hostMsP95))
    }
}

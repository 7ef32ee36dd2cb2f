import ArgumentParser
import AvatarOperators
import AvatarVulkan
import Foundation

/// `avatard bench kernels`: the compute kernels on the chosen Vulkan device next to NumPy (OpenBLAS) doing
/// the same computation on the same machine in the same run.
struct BenchKernelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Time the compute kernels on the chosen Vulkan device next to NumPy (OpenBLAS) doing the same work.")

    @Flag(name: .long, help: "Print JSON.") var json = false
    @Flag(name: .long, help: "Skip the 2048 matmul and the 256-channel conv.") var quick = false
    @Flag(name: .customLong("no-numpy"), help: "Do not run the NumPy baseline.") var noNumpy = false
    @Option(name: .long, help: "Vulkan device index (default: the preferred device).") var device: Int?
    @Option(name: .long, help: "Require a device type: discrete | integrated | cpu | any.") var require = "any"
    @Option(name: .long, help: "Only cases whose name contains this text.") var only: String?
    @Flag(name: .customLong("cpu-time"), help: "Time replays by the process's CPU time (a CPU driver's threads together), steadier than wall time on a shared machine.")
    var cpuTime = false

    func run() async throws {
        let requirement = try DeviceRequirement(parsing: require, index: device)
        // Long cases on the CPU driver take minutes; allow them before calling the device hung.
        let dev = try VulkanDevice(requirement: requirement, fenceTimeout: .seconds(1200))
        let bench = KernelBenchmark(ops: Operators(library: ShaderLibrary(device: dev)), timing: cpuTime ? .processCPU : .wall)
        var cases: [(String, () throws -> KernelBenchmark.Result)] = []
        for n in quick ? [512, 1024] : [512, 1024, 2048] { cases.append(("matmul_\(n)", { try bench.matmul(n) })) }
        for c in quick ? [64] : [64, 256] { cases.append(("conv3x3_256x256_c\(c)", { try bench.conv3x3(channels: c) })) }
        // The super-resolution's 256-channel 3×3 convs on conv2d_rows, per tile shape.
        for tile in Operators.RowsTile.allCases {
            cases.append(("conv3x3_rows_\(tile.rawValue)_128x128_c256", { try bench.conv3x3Rows(channels: 256, size: 128, tile: tile) }))
        }
        // The torso model's 3-D convs (hourglass levels, fuser), each on both kernels in the same run.
        for (cin, cout, d, hw, k) in [(64, 128, 16, 32, 3), (256, 512, 16, 8, 3), (512, 1024, 16, 4, 3), (57, 32, 16, 32, 7), (32, 5, 16, 32, 7)] {
            let name = "conv3d_gemm_k\(k)_\(d)x\(hw)x\(hw)_c\(cin)_\(cout)"
            cases.append((name, { try bench.conv3d(cin: cin, cout: cout, size: (d, hw, hw), kernel: k, rows: nil) }))
            for tile in Operators.RowsTile.allCases where tile.runs(w: hw, oh: hw, ow: hw) {
                let name = "conv3d_rows_\(tile.rawValue)_k\(k)_\(d)x\(hw)x\(hw)_c\(cin)_\(cout)"
                // The row-run kernel needs Cout % 4 == 0; the graph zero-pads the mask conv's 5 channels to 8.
                cases.append((name, { try bench.conv3d(cin: cin, cout: (cout + 3) / 4 * 4, size: (d, hw, hw), kernel: k, rows: tile) }))
            }
        }
        cases.append(("attention_768", { try bench.attention() }))
        cases.append(("attention_768_composed", { try bench.attention(fused: false) }))
        cases.append(("grid_sample_1.5M", { try bench.gridSample() }))
        cases.append(("dispatch_overhead_x200", { try bench.dispatchOverhead() }))
        let selected = cases.filter { only.map($0.0.contains) ?? true }
        var results: [KernelBenchmark.Result] = []
        for (name, run) in selected {
            FileHandle.standardError.write(Data("bench: \(name)…\n".utf8))
            results.append(try run())
        }
        let numpy = noNumpy ? nil : NumpyBaseline.run(cases: selected.map(\.0))

        let cpus = ProcessInfo.processInfo.activeProcessorCount
        let cpuModel = Self.cpuModel()
        if json {
            var rows: [[String: Any]] = []
            for r in results {
                var row: [String: Any] = ["name": r.name, "description": r.description, "seconds": r.seconds, "rate": r.rate, "unit": r.unit]
                if let s = numpy?.seconds[r.name] {
                    row["numpy_seconds"] = s
                    row["speed_vs_numpy"] = s / r.seconds
                }
                rows.append(row)
            }
            let object: [String: Any] = [
                "device": dev.info.name, "device_type": dev.info.type.rawValue, "driver": dev.info.driverInfo,
                "api": dev.info.apiVersion, "subgroup_size": dev.info.subgroupSize, "cpus": cpus, "cpu": cpuModel,
                "numpy": numpy?.version ?? "not run", "blas": numpy?.blas ?? "", "results": rows,
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
            return
        }
        print("device: \(dev.info.name) [\(dev.info.type.rawValue)], \(dev.info.driverInfo), subgroup \(dev.info.subgroupSize)")
        print("host: \(cpuModel), \(cpus) CPUs; NumPy \(numpy?.version ?? "not run") \(numpy?.blas ?? "")")
        print("| kernel | avatard | rate | NumPy | avatard / NumPy speed |")
        print("|---|---:|---:|---:|---:|")
        for r in results {
            let np = numpy?.seconds[r.name]
            let rate = r.rate > 0 ? String(format: "%.2f %@", r.rate, r.unit) : "–"
            let ratio = np.map { String(format: "%.3f", $0 / r.seconds) } ?? "–"
            print("| \(r.description) | \(Self.format(r.seconds)) | \(rate) | \(np.map(Self.format) ?? "–") | \(ratio) |")
        }
    }

    static func format(_ s: Double) -> String { s < 1e-3 ? String(format: "%.1f µs", s * 1e6) : String(format: "%.2f ms", s * 1e3) }

    static func cpuModel() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let value = line.split(separator: ":", maxSplits: 1).last else { return "unknown CPU" }
        return value.trimmingCharacters(in: .whitespaces)
    }

    /// Runs tools/bench_numpy.py with Debian's /usr/bin/python3 (NumPy on OpenBLAS) in the same run.
    enum NumpyBaseline {
        struct Output { var version: String; var blas: String; var seconds: [String: Double] }

        static func run(cases: [String]) -> Output? {
            guard let object = PythonBaseline.run(script: "tools/bench_numpy.py", arguments: ["--cases", cases.joined(separator: ",")],
                                                  label: "NumPy"),
                  let seconds = object["seconds"] as? [String: Double] else { return nil }
            return Output(version: object["numpy"] as? String ?? "?", blas: object["blas"] as? String ?? "", seconds: seconds)
        }
    }
}

import ArgumentParser
import AvatarOperators
import AvatarVulkan
import Foundation

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks (figures go into docs/performance.md).", subcommands: [Kernels.self])

    struct Kernels: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time the compute kernels on the chosen Vulkan device next to NumPy (OpenBLAS) doing the same work.")

        @Flag(name: .long, help: "Print JSON.") var json = false
        @Flag(name: .long, help: "Skip the 2048 matmul.") var quick = false
        @Flag(name: .long, help: "Also run the full 256-channel 3×3 conv at 256² (minutes on the CPU driver).") var full = false
        @Flag(name: .customLong("no-numpy"), help: "Do not run the NumPy baseline.") var noNumpy = false
        @Option(name: .long, help: "Vulkan device index.") var device: Int?
        @Option(name: .long, help: "Only cases whose name contains this text.") var only: String?

        func run() async throws {
            let dev = try VulkanDevice(requirement: DeviceRequirement(index: device))
            let bench = KernelBenchmark(ops: Operators(library: ShaderLibrary(device: dev)))
            var cases: [(String, () throws -> KernelBenchmark.Result)] = []
            for n in quick ? [512, 1024] : [512, 1024, 2048] { cases.append(("matmul_\(n)", { try bench.matmul(n) })) }
            for c in full ? [64, 256] : [64] { cases.append(("conv3x3_256x256_c\(c)", { try bench.conv3x3(channels: c) })) }
            cases.append(("attention_768", { try bench.attention() }))
            cases.append(("grid_sample_1.5M", { try bench.gridSample() }))
            cases.append(("dispatch_overhead_x200", { try bench.dispatchOverhead() }))
            var results: [KernelBenchmark.Result] = []
            for (name, run) in cases where only.map({ name.contains($0) }) ?? true {
                FileHandle.standardError.write(Data("bench: \(name)…\n".utf8))
                results.append(try run())
            }
            let numpy = noNumpy ? nil : NumpyBaseline.run(quick: quick, full: full)

            let machine = ProcessInfo.processInfo
            if json {
                var rows: [[String: Any]] = []
                for r in results {
                    var row: [String: Any] = ["name": r.name, "seconds": r.seconds, "rate": r.rate, "unit": r.unit]
                    if let s = numpy?.seconds[r.name] { row["numpy_seconds"] = s; row["ratio_vs_numpy"] = s / r.seconds }
                    rows.append(row)
                }
                let object: [String: Any] = ["device": dev.info.name, "device_type": dev.info.type.rawValue, "driver": dev.info.driverInfo,
                                             "cpus": machine.activeProcessorCount, "numpy": numpy?.version ?? "not run", "results": rows]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
                return
            }
            print("device: \(dev.info.name) [\(dev.info.type.rawValue)], \(dev.info.driverInfo); \(machine.activeProcessorCount) CPUs; NumPy \(numpy?.version ?? "not run")")
            print("| kernel | avatard | rate | NumPy | avatard / NumPy speed |")
            print("|---|---:|---:|---:|---:|")
            for r in results {
                let np = numpy?.seconds[r.name]
                let rate = r.rate > 0 ? String(format: "%.2f %@", r.rate, r.unit) : String(format: "%.1f µs/dispatch", r.seconds * 1e6)
                print("| \(r.name) | \(Self.format(r.seconds)) | \(rate) | \(np.map(Self.format) ?? "–") | \(np.map { String(format: "%.3f", $0 / r.seconds) } ?? "–") |")
            }
        }

        static func format(_ s: Double) -> String { s < 1e-3 ? String(format: "%.1f µs", s * 1e6) : String(format: "%.2f ms", s * 1e3) }
    }
}

/// Runs tools/bench_numpy.py with Debian's /usr/bin/python3 (NumPy on OpenBLAS) in the same run.
enum NumpyBaseline {
    struct Output { var version: String; var seconds: [String: Double] }

    static func run(quick: Bool, full: Bool) -> Output? {
        guard let root = DataPaths.root() else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [root.appendingPathComponent("tools/bench_numpy.py").path] + (quick ? ["--quick"] : []) + (full ? ["--full"] : [])
        let pipe = Pipe()
        process.standardOutput = pipe
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let seconds = object["seconds"] as? [String: Double] else { return nil }
        return Output(version: object["numpy"] as? String ?? "?", seconds: seconds)
    }
}

import Foundation

/// Runs a baseline script under `tools/` with Debian's /usr/bin/python3 in the same run as a benchmark and
/// returns its JSON object, which must hold `seconds` (case name → seconds). Failures are reported on
/// stderr and give nil: a benchmark without its baseline still prints its own figures. The script runs as a module
/// of the `tools` package from the repository root (`python3 -m tools.bench_motion`) so its package imports resolve.
enum PythonBaseline {
    static func run(script: String, arguments: [String], label: String) -> [String: Any]? {
        guard let root = DataPaths.root(), FileManager.default.fileExists(atPath: root.appendingPathComponent(script).path) else {
            FileHandle.standardError.write(Data("bench: \(script) not found; \(label) baseline skipped\n".utf8))
            return nil
        }
        FileHandle.standardError.write(Data("bench: \(label) baseline (\(script))…\n".utf8))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        let module = String(script.dropLast(script.hasSuffix(".py") ? 3 : 0)).replacingOccurrences(of: "/", with: ".")
        process.currentDirectoryURL = root
        process.arguments = ["-m", module] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              object["seconds"] is [String: Double] else {
            FileHandle.standardError.write(Data("bench: the \(label) baseline failed (status \(process.terminationStatus))\n".utf8))
            return nil
        }
        return object
    }
}

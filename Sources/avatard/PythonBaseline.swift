import Foundation

/// Runs a baseline script under `tools/` with Debian's /usr/bin/python3 in the same run as a benchmark and
/// returns its JSON object, which must hold `seconds` (case name → seconds). Failures are reported on
/// stderr and give nil: a benchmark without its baseline still prints its own figures.
enum PythonBaseline {
    static func run(script: String, arguments: [String], label: String) -> [String: Any]? {
        guard let root = DataPaths.root() else {
            FileHandle.standardError.write(Data("bench: \(script) not found; \(label) baseline skipped\n".utf8))
            return nil
        }
        FileHandle.standardError.write(Data("bench: \(label) baseline (\(script))…\n".utf8))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [root.appendingPathComponent(script).path] + arguments
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

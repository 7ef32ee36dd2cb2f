import AvatarTestSupport
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The real `avatard serve` binary of this build, with a generated configuration, on loopback ports chosen
/// by the kernel; its console log (journal format: `<N>level=…`) goes to a file. `terminate()` sends SIGTERM.
final class DaemonProcess: @unchecked Sendable {
    let process = Process()
    let directory: URL
    let port: Int
    let adminPort: Int
    let logPath: String

    /// The avatard executable next to the test bundle (what `swift build --build-tests` built), else
    /// `.build/debug/avatard`; `AVATARD_BIN` overrides both.
    static var binary: String {
        if let b = ProcessInfo.processInfo.environment["AVATARD_BIN"], !b.isEmpty { return b }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let sibling = exe.deletingLastPathComponent().appendingPathComponent("avatard").path
        if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
        return TestDaemon.repositoryRoot.appendingPathComponent(".build/debug/avatard").path
    }

    /// Two distinct free loopback ports (bound and released: the daemon binds them right after).
    static func freePorts(_ n: Int) -> [Int] {
        var fds: [Int32] = []
        defer { for fd in fds { close(fd) } }
        return (0..<n).map { _ in
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            fds.append(fd)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                    bind(fd, p, len)
                    return getsockname(fd, p, &len)
                }
            }
            return Int(UInt16(bigEndian: addr.sin_port))
        }
    }

    /// Starts the daemon; `limits` are lines of its `[limits]` table, `maxOpenFiles` runs it under
    /// `prlimit --nofile` (soft and hard).
    init(limits: [String] = [], extraConfig: String = "", logLevel: String = "info", maxOpenFiles: Int? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("avatard-proc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("recordings"), withIntermediateDirectories: true)
        let ports = Self.freePorts(2)
        port = ports[0]
        adminPort = ports[1]
        // The shader caches are shared between runs (a cold lavapipe compile takes seconds).
        let cache = TestDaemon.repositoryRoot.appendingPathComponent(".build/test-daemon-cache").path
        try? FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        let config = """
            [server]
            listen = "127.0.0.1:\(port)"
            admin_listen = "127.0.0.1:\(adminPort)"

            [output]
            directory = "\(directory.appendingPathComponent("recordings").path)"

            [limits]
            \(limits.joined(separator: "\n"))

            [device]
            cache_directory = "\(cache)"

            [log]
            level = "\(logLevel)"

            """ + extraConfig
        let configPath = directory.appendingPathComponent("avatard.toml")
        try config.write(to: configPath, atomically: true, encoding: .utf8)
        logPath = directory.appendingPathComponent("avatard.log").path
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        var arguments = ["serve", "--config", configPath.path]
        if let maxOpenFiles {
            // prlimit execs the daemon: the child's pid is the daemon's.
            process.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
            arguments = ["--nofile=\(maxOpenFiles):\(maxOpenFiles)", "--", Self.binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: Self.binary)
        }
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["MESA_SHADER_CACHE_DIR"] = cache
        process.environment = env
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    var pid: Int32 { process.processIdentifier }
    var url: String { "ws://127.0.0.1:\(port)/v1/session" }
    var recordings: String { directory.appendingPathComponent("recordings").path }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Log lines at error level or above (syslog priority 0…3: emergency, alert, critical, error).
    var errorLines: [String] {
        log.split(separator: "\n").map(String.init).filter { line in
            guard line.hasPrefix("<"), let close = line.firstIndex(of: ">"), let p = Int(line[line.index(after: line.startIndex)..<close]) else {
                return false
            }
            return p <= 3
        }
    }

    /// Waits until `/readyz` answers 200 (the daemon is listening, avatars loaded).
    func waitReady(timeout: Duration = .seconds(120)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw DaemonProcessError("avatard exited with \(process.terminationStatus) before it was ready:\n\(log)")
            }
            if let (status, _) = try? await admin("/readyz", timeout: 1), status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw DaemonProcessError("avatard not ready within \(timeout):\n\(log)")
    }

    /// GET on the admin listener: (status, body).
    func admin(_ path: String, timeout: TimeInterval = 5) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(adminPort)\(path)")!)
        request.timeoutInterval = timeout
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    func terminate() { kill(process.processIdentifier, SIGTERM) }

    /// Waits for the process to exit; its exit status, or nil if it is still running after `timeout`.
    func waitExit(timeout: Duration) async throws -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Open descriptors of the daemon now.
    var openFiles: Int { ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count }

    func files(ext: String = "mp4") -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: recordings)) ?? []).filter { $0.hasSuffix(".\(ext)") }
            .map { (recordings as NSString).appendingPathComponent($0) }
    }
}

struct DaemonProcessError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

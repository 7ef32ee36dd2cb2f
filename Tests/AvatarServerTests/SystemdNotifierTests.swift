import AvatarServer
import Foundation
import Logging
import Testing

@Suite struct SystemdNotifierTests {
    /// Binds a datagram socket where systemd would, and reads what the notifier sends.
    @Test(arguments: [false, true])
    func sendsDatagramsToNotifySocket(abstract: Bool) throws {
        let name = "avatard-notify-\(UUID().uuidString.prefix(8))"
        let path = abstract ? "@\(name)" : FileManager.default.temporaryDirectory.appendingPathComponent(name).path
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        #expect(bound == 0)
        defer { if !abstract { unlink(path) } }

        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000"])
        #expect(notifier.isActive)
        #expect(notifier.watchdogInterval == .seconds(10))
        #expect(notifier.notify("READY=1\nSTATUS=serving"))
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = recv(fd, &buffer, buffer.count, 0)
        #expect(String(decoding: buffer[0..<max(0, n)], as: UTF8.self) == "READY=1\nSTATUS=serving")
    }

    @Test func inactiveOutsideSystemd() {
        let notifier = SystemdNotifier(environment: [:])
        #expect(!notifier.isActive)
        #expect(!notifier.notify("READY=1"))
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"]).watchdogInterval == nil)
    }

    @Test func journalLinesCarryThePriority() {
        let line = JournalLogHandler.render(level: .warning, message: "frame late", metadata: ["session.id": "abc", "note": "two words"],
                                            label: "avatard", format: .logfmt)
        #expect(line == "<4>level=warning msg=\"frame late\" note=\"two words\" session.id=abc\n")
        let json = JournalLogHandler.render(level: .error, message: "x", metadata: [:], label: "avatard", format: .json)
        #expect(json.hasPrefix("<3>{"))
    }
}

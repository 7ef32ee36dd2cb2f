#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// sd_notify(3) spoken directly: one datagram per message to the AF_UNIX socket in $NOTIFY_SOCKET
/// (a leading '@' means the abstract namespace). No libsystemd. Outside systemd it does nothing.
public final class SystemdNotifier: Sendable {
    private let fd: Int32
    private let address: [UInt8]

    /// Watchdog interval from $WATCHDOG_USEC when $WATCHDOG_PID is unset or ours.
    public let watchdogInterval: Duration?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        if let usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init),
           environment["WATCHDOG_PID"].flatMap(Int32.init).map({ $0 == getpid() }) ?? true {
            watchdogInterval = .microseconds(Int64(usec))
        } else {
            watchdogInterval = nil
        }
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty, path.utf8.count < 108 else {
            fd = -1
            address = []
            return
        }
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        address = bytes
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    }

    deinit { if fd >= 0 { close(fd) } }

    public var isActive: Bool { fd >= 0 }

    /// Sends e.g. "READY=1\nSTATUS=serving". Returns false if the datagram could not be sent.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        guard fd >= 0 else { return false }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in address.enumerated() { raw[i] = b }
        }
        // Abstract sockets use the exact length, not sizeof(sockaddr_un).
        let length = socklen_t(MemoryLayout<sa_family_t>.size + address.count + (address.first == 0 ? 0 : 1))
        let payload = Array(state.utf8)
        let sent = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, length) }
            }
        }
        return sent == payload.count
    }
}

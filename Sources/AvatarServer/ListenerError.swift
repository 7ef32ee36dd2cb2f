import AvatarConfig

/// A listener could not bind (port in use, permission, unknown host). `avatard serve` reports it with the
/// address and exits with `exitCode` (78, EX_CONFIG: the configuration must change, or the port be freed;
/// systemd's `RestartPreventExitStatus=78` keeps it from restarting in a loop).
public struct ListenerError: Error, CustomStringConvertible, Sendable {
    public static let exitCode: Int32 = 78
    public let role: String
    public let address: ListenAddress
    public let underlying: String

    public var description: String { "cannot listen on \(address) (\(role) listener): \(underlying)" }
}

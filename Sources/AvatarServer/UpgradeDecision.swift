import NIOHTTP1

/// The outcome of checking a WebSocket upgrade request before upgrading.
enum UpgradeDecision: Sendable {
    /// Upgrade, answering with these extra response headers (e.g. the selected subprotocol).
    case upgrade(HTTPHeaders)
    /// Refuse before the upgrade with this HTTP status and a short plain-text reason.
    case refuse(HTTPResponseStatus, String)
}

import AvatarPipeline
import Foundation
import NIOHTTP1

/// A plain (non-WebSocket) HTTP request on the public listener, read in full (bodies up to `maxBody`).
struct PublicRequest: Sendable {
    var method: HTTPMethod
    var path: String
    var query: [String: String]
    var headers: HTTPHeaders
    var body: [UInt8]

    static let maxBody = 64 << 10

    init(head: HTTPRequestHead, body: [UInt8]) {
        method = head.method
        let parts = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = parts.first.map(String.init) ?? head.uri
        var query: [String: String] = [:]
        if parts.count == 2 {
            for item in parts[1].split(separator: "&") {
                let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let key = kv.first.map(String.init) else { continue }
                query[key] = kv.count == 2 ? (String(kv[1]).removingPercentEncoding ?? "") : ""
            }
        }
        self.query = query
        headers = head.headers
        self.body = body
    }
}

struct PublicResponse: Sendable {
    var status: HTTPResponseStatus
    var headers: [(String, String)] = []
    var body: [UInt8] = []

    static func text(_ status: HTTPResponseStatus, _ text: String, headers: [(String, String)] = []) -> PublicResponse {
        PublicResponse(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")] + headers, body: Array(text.utf8))
    }
}

/// What the public listener serves besides the protocol's WebSocket: the browser page (`/`), the avatars a
/// client may ask for (`GET /v1/avatars`), and WHEP for WebRTC viewers (`POST /v1/sessions/{id}/whep`,
/// `DELETE` on the resource it creates). The API paths need the same token as sessions when tokens are
/// configured (`Authorization: Bearer`, or `?token=` where a browser cannot set headers); the page itself does
/// not, it asks for the token.
struct PublicRoutes: Sendable {
    let tokens: Set<String>
    let avatars: AvatarRegistry
    /// Output presets the page offers (WebRTC presets, which WHEP can play).
    let webrtcOutputs: [String]
    let whep: WHEPService

    /// Every answer allows cross-origin use (WHEP players on other origins), with the Location header visible.
    static let cors: [(String, String)] = [
        ("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Expose-Headers", "Location"),
    ]

    func respond(_ request: PublicRequest) async -> PublicResponse {
        var response = await route(request)
        response.headers += Self.cors
        return response
    }

    private func route(_ request: PublicRequest) async -> PublicResponse {
        let path = request.path
        if request.method == .OPTIONS {
            return PublicResponse(status: .noContent, headers: [
                ("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS"),
                ("Access-Control-Allow-Headers", "Authorization, Content-Type"),
                ("Access-Control-Max-Age", "600"),
            ])
        }
        if let asset = WebAssets.asset(for: path) {
            guard request.method == .GET || request.method == .HEAD else { return Self.notAllowed("GET") }
            return PublicResponse(status: .ok, headers: [("Content-Type", asset.contentType), ("Cache-Control", "no-cache"),
                                                         ("X-Content-Type-Options", "nosniff")],
                                  body: asset.bytes)
        }
        if path == "/v1/session" {
            return .text(.upgradeRequired, "GET /v1/session must be a WebSocket upgrade (protocol avatard.v1)\n")
        }
        if path == "/v1/avatars" {
            guard request.method == .GET else { return Self.notAllowed("GET") }
            if let refusal = authorize(request) { return refusal }
            var body = AdminRouter.avatarList(avatars)
            body["webrtc_outputs"] = webrtcOutputs
            return PublicResponse(status: .ok, headers: [("Content-Type", "application/json")],
                                  body: Array(AdminRouter.json(body).utf8))
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        // "", "v1", "sessions", id, "whep"[, viewer]
        guard parts.count >= 5, parts.count <= 6, parts[0].isEmpty, parts[1] == "v1", parts[2] == "sessions",
              parts[4] == "whep", !parts[3].isEmpty else {
            return .text(.notFound, "not found\n")
        }
        let sessionID = parts[3]
        if parts.count == 5 {
            guard request.method == .POST else { return Self.notAllowed("POST") }
            if let refusal = authorize(request) { return refusal }
            let type = request.headers["Content-Type"].first?.split(separator: ";").first?
                .trimmingCharacters(in: .whitespaces).lowercased()
            guard type == nil || type == "application/sdp" else {
                return .text(.unsupportedMediaType, "a WHEP offer is Content-Type: application/sdp\n")
            }
            guard let sdp = String(validating: request.body, as: UTF8.self), !sdp.isEmpty else {
                return .text(.badRequest, "the body must be an SDP offer (UTF-8 text)\n")
            }
            let reply = await whep.offer(sessionID: sessionID, sdp: sdp)
            guard reply.status == 201, let viewer = reply.viewerID else {
                return .text(HTTPResponseStatus(statusCode: reply.status), reply.body)
            }
            return PublicResponse(status: .created, headers: [
                ("Content-Type", "application/sdp"),
                ("Location", "/v1/sessions/\(sessionID)/whep/\(viewer)"),
            ], body: Array(reply.body.utf8))
        }
        let viewerID = parts[5]
        switch request.method {
        case .DELETE:
            if let refusal = authorize(request) { return refusal }
            let reply = await whep.delete(sessionID: sessionID, viewerID: viewerID)
            return .text(HTTPResponseStatus(statusCode: reply.status), reply.body)
        case .PATCH:
            // Trickle ICE and ICE restarts are not supported: the answer already holds every candidate.
            return .text(.methodNotAllowed, "trickle ICE is not supported: the answer carries all candidates\n",
                         headers: [("Allow", "DELETE")])
        default:
            return Self.notAllowed("DELETE")
        }
    }

    /// nil when the request may proceed; a 401 otherwise.
    private func authorize(_ request: PublicRequest) -> PublicResponse? {
        guard !tokens.isEmpty else { return nil }
        var presented: String?
        if let auth = request.headers["Authorization"].first, auth.lowercased().hasPrefix("bearer ") {
            presented = String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        } else if let token = request.query["token"] {
            presented = token
        }
        guard let presented, tokens.contains(presented) else {
            return .text(.unauthorized, "missing or wrong bearer token\n", headers: [("WWW-Authenticate", "Bearer")])
        }
        return nil
    }

    private static func notAllowed(_ allow: String) -> PublicResponse {
        .text(.methodNotAllowed, "method not allowed\n", headers: [("Allow", allow)])
    }
}
